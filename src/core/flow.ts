import { InvalidArgumentError } from './errors.js';
import { ipv4ToNumber } from './prefix.js';

/** Directions of a flow, as bits: towards the server (the client's packets), towards the client. */
export const FlowDirection = { NONE: 0, TO_SERVER: 1, TO_CLIENT: 2, BOTH: 3 } as const;
export type FlowDirection = (typeof FlowDirection)[keyof typeof FlowDirection];

/**
 * A flow carried as counts instead of packets: its five-tuple, its time span
 * and its exact packet and byte counts in each direction. The emulator hands
 * these to the shadowing engine for the flows none of whose packets can be
 * copied (the engine decides once per flow, as a real mirror's flow cache
 * does), and the engine counts them exactly as it would have counted their
 * packets.
 *
 * One object is filled and reused by a producer: a consumer reads it during
 * the call it receives it in and keeps nothing.
 */
export class FlowRecord {
  /** The flow's id (unique within the producer's run). */
  id = 0;
  /** Virtual network the flow runs in. */
  vnet = '';
  /** 4 or 6. */
  ipVersion = 4;
  /** IPv4 client and server addresses as unsigned 32-bit numbers. */
  client4 = 0;
  server4 = 0;
  /** IPv6: the client's address in bytes 0–15, the server's in 16–31. */
  readonly addresses6 = new Uint8Array(32);
  clientPort = 0;
  serverPort = 0;
  /** IP protocol (6 TCP, 17 UDP, 1 ICMP, …). */
  protocol = 0;
  /** Times of the first and the last packet, ms since the epoch. */
  startMs = 0;
  endMs = 0;
  packetsToServer = 0;
  /** Wire bytes (whole frames). */
  bytesToServer = 0;
  packetsToClient = 0;
  bytesToClient = 0;

  /** Set the addresses from their bytes (4 or 16 each, both of one family). */
  setAddresses(client: Uint8Array, server: Uint8Array): void {
    if (client.length === 4 && server.length === 4) {
      this.ipVersion = 4;
      this.client4 = ipv4ToNumber(client);
      this.server4 = ipv4ToNumber(server);
    } else if (client.length === 16 && server.length === 16) {
      this.ipVersion = 6;
      this.addresses6.set(client, 0);
      this.addresses6.set(server, 16);
    } else throw new InvalidArgumentError(`flow addresses must both be IPv4 or both IPv6 (${client.length} and ${server.length} bytes)`);
  }
}
