/**
 * Command-line parsing for the `npm run` tools: node's parseArgs, but a bad
 * flag ends the command with one line naming the flag and the options it
 * takes (exit 2), instead of a stack trace.
 */
import { parseArgs, type ParseArgsConfig } from "node:util";

type Options = NonNullable<ParseArgsConfig["options"]>;

export function parseCommandArgs<O extends Options>(command: string, options: O, usage: string) {
  try {
    return parseArgs({ options, strict: true }).values;
  } catch (err) {
    // parseArgs adds advice about positional arguments that none of these tools take.
    const message = (err as Error).message.replace(/\. To specify a positional argument.*$/s, "");
    process.stderr.write(`npm run ${command}: ${message}. Options: ${usage}\n`);
    process.exit(2);
  }
}
