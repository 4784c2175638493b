import { Validations } from "aws-cdk-lib";
import * as ec2 from "aws-cdk-lib/aws-ec2";
import * as elasticache from "aws-cdk-lib/aws-elasticache";
import * as secretsmanager from "aws-cdk-lib/aws-secretsmanager";
import { Construct } from "constructs";

export interface BusProps {
  readonly vpc: ec2.IVpc;
  readonly subnets: ec2.SubnetSelection;
  /** Lowercase, unique in the account and region, at most 40 characters (ElastiCache rule). */
  readonly replicationGroupId: string;
  /** cluster: sharded, cluster mode on. single: one shard, cluster mode off. */
  readonly mode: "cluster" | "single";
  /** Node groups in cluster mode (ignored in single mode). */
  readonly shards: number;
  readonly replicasPerShard: number;
  readonly engine: "valkey" | "redis";
  readonly engineVersion: string;
  readonly nodeType: string;
  readonly description: string;
}

/**
 * Port of the replication group. cdk-nag AwsSolutions-AEC5 flags the default
 * 6379; moving off it costs nothing because the gateway reads host:port from
 * REDIS_NODES.
 */
export const BUS_PORT = 6380;

/**
 * ElastiCache auth tokens accept printable ASCII except `/`, `"`, `@` and space,
 * 16 to 128 characters (ElastiCache "AUTH" docs).
 */
export const AUTH_TOKEN_EXCLUDED_CHARACTERS = '/"@ ';
export const AUTH_TOKEN_LENGTH = 64;

/**
 * The message bus of the Socket.IO sharded Redis adapter: an ElastiCache
 * (Valkey/Redis) replication group, its subnet group, its security group and
 * its AUTH token in Secrets Manager.
 */
export class Bus extends Construct {
  readonly replicationGroup: elasticache.CfnReplicationGroup;
  /** The literal replication group id (node ids and alarms are built from it). */
  readonly replicationGroupId: string;
  /** CacheClusterId of every node, grouped per shard: `<rg>-0001-001` (cluster) or `<rg>-001` (single). */
  readonly nodeIdsByShard: readonly (readonly string[])[];
  /** Configuration endpoint (cluster) or primary endpoint (single), host and port. */
  readonly endpointAddress: string;
  readonly endpointPort: string;
  readonly authToken: secretsmanager.Secret;
  readonly securityGroup: ec2.SecurityGroup;
  readonly connections: ec2.Connections;
  readonly mode: "cluster" | "single";

  constructor(scope: Construct, id: string, props: BusProps) {
    super(scope, id);
    const rgId = props.replicationGroupId;
    if (!/^[a-z][a-z0-9-]{0,39}$/.test(rgId) || rgId.includes("--") || rgId.endsWith("-")) {
      throw new Error(`Replication group id "${rgId}" is not a valid ElastiCache id (lowercase, starts with a letter, at most 40 characters, no "--"); shorten the stack or fleet name.`);
    }
    this.replicationGroupId = rgId;
    this.mode = props.mode;

    this.authToken = new secretsmanager.Secret(this, "AuthToken", {
      description: `AUTH token of ElastiCache replication group ${rgId}`,
      generateSecretString: {
        passwordLength: AUTH_TOKEN_LENGTH,
        excludeCharacters: AUTH_TOKEN_EXCLUDED_CHARACTERS,
        includeSpace: false,
      },
    });

    Validations.of(this.authToken).acknowledge({
      id: "AwsSolutions-SMG4",
      reason:
        "ElastiCache has no managed rotation for AUTH tokens: rotating takes ModifyReplicationGroup with AuthTokenUpdateStrategy ROTATE then SET while every gateway restarts with the new value. It is an operator runbook (docs/stack.md), not a Secrets Manager rotation Lambda.",
    });

    this.securityGroup = new ec2.SecurityGroup(this, "SecurityGroup", {
      vpc: props.vpc,
      description: `ElastiCache ${rgId}: Redis port from the gateway tasks only`,
      // The broker initiates nothing.
      allowAllOutbound: false,
    });
    this.connections = new ec2.Connections({
      securityGroups: [this.securityGroup],
      defaultPort: ec2.Port.tcp(BUS_PORT),
    });

    const subnetGroup = new elasticache.CfnSubnetGroup(this, "SubnetGroup", {
      description: `Subnets of ElastiCache ${rgId}`,
      subnetIds: props.vpc.selectSubnets(props.subnets).subnetIds,
    });

    const cluster = props.mode === "cluster";
    const major = props.engineVersion.split(".")[0];
    // Cluster mode needs a parameter group with cluster-enabled yes; the default
    // groups are named default.<family>[.cluster.on].
    const family = props.engine === "valkey" ? `valkey${major}` : major === "6" ? "redis6.x" : `redis${major}`;
    const nodesPerShard = props.replicasPerShard + 1;

    this.replicationGroup = new elasticache.CfnReplicationGroup(this, "ReplicationGroup", {
      replicationGroupId: rgId,
      replicationGroupDescription: props.description,
      engine: props.engine,
      engineVersion: props.engineVersion,
      cacheNodeType: props.nodeType,
      cacheParameterGroupName: `default.${family}${cluster ? ".cluster.on" : ""}`,
      clusterMode: cluster ? "enabled" : "disabled",
      ...(cluster
        ? { numNodeGroups: props.shards, replicasPerNodeGroup: props.replicasPerShard }
        : { numCacheClusters: nodesPerShard }),
      // A primary failure promotes a replica in another AZ instead of taking
      // every gateway's pub/sub down.
      automaticFailoverEnabled: true,
      multiAzEnabled: true,
      atRestEncryptionEnabled: true,
      transitEncryptionEnabled: true,
      transitEncryptionMode: "required",
      // Resolved by CloudFormation at deploy time: the template only holds a
      // {{resolve:secretsmanager:...}} reference, never the token.
      authToken: this.authToken.secretValue.unsafeUnwrap(),
      port: BUS_PORT,
      cacheSubnetGroupName: subnetGroup.ref,
      securityGroupIds: [this.securityGroup.securityGroupId],
      autoMinorVersionUpgrade: true,
      // Pub/sub messages are transient and adapter state is rebuilt on
      // reconnect: a snapshot would have nothing worth restoring.
      snapshotRetentionLimit: 0,
    });

    const shardCount = cluster ? props.shards : 1;
    const pad = (n: number, w: number) => String(n).padStart(w, "0");
    this.nodeIdsByShard = Array.from({ length: shardCount }, (_, s) =>
      Array.from({ length: nodesPerShard }, (_, n) => (cluster ? `${rgId}-${pad(s + 1, 4)}-${pad(n + 1, 3)}` : `${rgId}-${pad(n + 1, 3)}`)),
    );

    this.endpointAddress = cluster ? this.replicationGroup.attrConfigurationEndPointAddress : this.replicationGroup.attrPrimaryEndPointAddress;
    this.endpointPort = cluster ? this.replicationGroup.attrConfigurationEndPointPort : this.replicationGroup.attrPrimaryEndPointPort;
  }

  /** Every node id, flattened. */
  get nodeIds(): string[] {
    return this.nodeIdsByShard.flat();
  }
}
