/**
 * The emulator's shared vocabulary. Traffic is carried as flows with exact
 * packet and byte counts; a flow is turned into real packet bytes only when
 * its packets are exported or shadowed, and then exactly as many packets and
 * bytes come out as the flow counts.
 */

export const FlowKind = {
  DNS: 'dns',
  HTTP: 'http',
  TLS: 'tls',
  SSH: 'ssh',
  BULK: 'bulk',
  PORT_SCAN: 'port-scan',
  SYN_FLOOD: 'syn-flood',
  DNS_TUNNEL: 'dns-tunnel',
  C2_BEACON: 'c2-beacon',
  EXFILTRATION: 'exfiltration',
} as const;
export type FlowKind = (typeof FlowKind)[keyof typeof FlowKind];

/** One conversation (a TCP connection, a DNS exchange, a probe) between a client and a server. */
export interface Flow {
  /** Unique within a run, deterministic for a seed. */
  readonly id: number;
  readonly kind: FlowKind;
  readonly vnet: string;
  /** Application served, or null (attacks, background). */
  readonly app: string | null;
  /** Ground-truth label id of the attack this flow realises, or null. */
  readonly label: string | null;
  readonly client: string;
  readonly clientPort: number;
  readonly server: string;
  readonly serverPort: number;
  /** IP protocol: 6 TCP, 17 UDP, 1 ICMP. */
  readonly protocol: number;
  /** Start, ms of simulated time since the epoch. */
  readonly start: number;
  /** Duration in ms (last packet at start + duration). */
  readonly duration: number;
  readonly packetsToServer: number;
  /** Wire bytes (Ethernet frames) client → server. */
  readonly bytesToServer: number;
  readonly packetsToClient: number;
  readonly bytesToClient: number;
  /** What the bytes carry: host name (HTTP Host, TLS SNI, DNS query name), etc. */
  readonly hostname?: string;
  /** Per-flow seed for the bytes (random fields such as TCP sequence numbers). */
  readonly seed: number;
}

/** Receives the frames of a flow in time order. */
export type FrameSink = (frame: Uint8Array, timeMs: number, toServer: boolean) => void;

/** An attack's ground truth: when, what, who. */
export interface AttackLabel {
  readonly id: string;
  readonly kind: string;
  readonly vnet: string;
  /** ms since the epoch. */
  readonly start: number;
  readonly end: number;
  /** Addresses involved (attacker, victims), as text. */
  readonly hosts: readonly string[];
  /** Prefixes involved (routing attacks). */
  readonly prefixes?: readonly string[];
  readonly description: string;
}

/** Load and resource use of one application over one step. */
export interface AppSample {
  readonly time: number;
  readonly vnet: string;
  readonly app: string;
  readonly requestsPerSecond: number;
  readonly bitsPerSecond: number;
  readonly cpuCores: number;
  readonly memoryMiB: number;
  readonly allocatedCores: number;
  readonly allocatedMemoryMiB: number;
  /** Fraction of requests that could not be served for lack of capacity (0..1). */
  readonly saturation: number;
}
