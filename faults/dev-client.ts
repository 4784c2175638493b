/**
 * The client helper as the fault scenarios use it: authentication is on in
 * every topology, so each client asks for a fresh development token on every
 * (re)connect, as a production client asks its identity provider.
 */
import { createSwitchboardClient } from "../client/switchboard-client.js";
import { mintDevToken } from "../topology/dev-auth.js";

export function devClient(url: string, opts: Parameters<typeof createSwitchboardClient>[1] = {}) {
  return createSwitchboardClient(url, { getToken: () => mintDevToken(), ...opts });
}
