/**
 * The virtual network emulator: it plays the cloud provider. Step by step of
 * simulated (or real) time it generates the applications' traffic as flows
 * with exact packet and byte counts, forwards each flow through the virtual
 * network's routing table (the one the RII builds from the appliances' real
 * BGP sessions) over the substrate, charges the links it crosses, runs the
 * routing script and the attacks, and models each application's CPU and
 * memory. Flows become real packet bytes only when they are exported or
 * shadowed.
 */
import { FlowDirection, FlowRecord, ipv4ToNumber, parseAddress, parsePrefix, tryParseAddress, formatAddress, routeEventTopic, silentLogger, type Clock, type Logger } from '../../core/index.js';
import type { RoutingInterceptor } from '../../routing/index.js';
import type { ApplicationConfig, ShadownetConfig, VnetConfig } from '../config.js';
import { ApplianceFleet } from './appliances.js';
import { AttackPlan } from './attacks.js';
import { OverlayForwarder, type DropReason, type RouteLookupResult, type RouteTo } from './forwarding.js';
import { ScriptRunner, parseOffset } from './script.js';
import { Substrate } from './topology.js';
import { appUsage } from './traffic/resources.js';
import { appFlowPlan, createRng, FlowBatch, generateAppBatch, generateAppFlows, type AppFlowPlan, type Rng } from './traffic/rhythm.js';
import { FrameMemory, materializeFlow, useFrameMemory } from './traffic/flows.js';
import type { AppSample, AttackLabel, Flow } from './types.js';
import type { MrtWriter } from '../../routing/mrt/index.js';

/**
 * Which flows are turned into packet bytes: all, none, 1 flow in N (by a
 * hash of its id), or those the consumer selects. With `select`, `wants` is
 * asked for each delivered flow whose packets all share its five-tuple (not
 * scans and spoofed floods, which always become packets) and answers the
 * directions to turn into packets (FlowDirection bits); the directions it
 * leaves out go to `onFlow` as counts instead (a direction's frames are then
 * not built, and the other direction's are the same bytes as ever).
 */
export type Materialize =
  | { mode: 'all' }
  | { mode: 'none' }
  | { mode: 'sample'; oneIn: number }
  | { mode: 'select'; wants: (flow: FlowRecord) => number };

export interface EmulatorOptions {
  config: ShadownetConfig;
  clock: Clock;
  /** The RII whose routing tables forward the traffic (its virtual routers must be running). */
  rii: RoutingInterceptor;
  logger?: Logger;
  materialize?: Materialize;
  /** Receives the frames of materialized flows, in time order within a step. */
  onFrame?: (frame: Uint8Array, timeMs: number, flow: Flow, toServer: boolean) => void;
  /**
   * The frame given to onFrame is only read until onFrame returns (it is
   * copied or written out, not kept): its memory is then reused for the
   * frames of later steps, which spares the garbage collector. Default false.
   */
  reuseFrameMemory?: boolean;
  /**
   * With `materialize: select`: receives the delivered flows that were not
   * turned into packets, as counts, in time order (by start) with the
   * frames given to onFrame. The record is reused after the call.
   */
  onFlow?: (flow: FlowRecord) => void;
  /** Receives each application's load and resource use per step. */
  onSample?: (s: AppSample) => void;
  /** Records the appliances' BGP UPDATEs. */
  mrt?: MrtWriter;
}

export interface EmulatorCounters {
  steps: number;
  flows: number;
  packets: number;
  bytes: number;
  /** Flows (and their packets) dropped, by reason: no-route, next-hop-unknown, capacity. */
  readonly droppedFlows: Record<string, number>;
  readonly droppedPackets: Record<string, number>;
  materializedFlows: number;
  materializedPackets: number;
  /** Flows with a direction given to onFlow as counts (select), and the packets given so. */
  countedFlows: number;
  countedPackets: number;
  /** Flows whose counts could not be realised as packets (a bug if ever non-zero). */
  unmaterializable: number;
  attackFlows: number;
}

interface AppState {
  readonly vnet: VnetConfig;
  readonly app: ApplicationConfig;
  readonly service: string;
  readonly clients: string[];
  /** How its flows are made as numbers (null: as objects). */
  readonly plan: AppFlowPlan | null;
  allocation: { cores: number; memoryMiB: number };
}

// What became of a row of the step's batch.
const DELIVERED = 1;
const DROPPED = 2;

/** An address inside the application's service prefix (network + 10), or its first node's address. */
function serviceAddress(vnet: VnetConfig, app: ApplicationConfig): string {
  if (app.prefix) {
    const p = parsePrefix(app.prefix);
    const a = p.address.slice();
    a[a.length - 1] |= p.length >= (a.length * 8) - 4 ? 1 : 10;
    return formatAddress(a);
  }
  const node = vnet.nodes.find((n) => n.apps.includes(app.name));
  return node ? formatAddress(parseAddress(node.address)) : formatAddress(parsePrefix(vnet.cidrs[0]).address);
}

export class Emulator {
  readonly counters: EmulatorCounters = {
    steps: 0,
    flows: 0,
    packets: 0,
    bytes: 0,
    droppedFlows: {},
    droppedPackets: {},
    materializedFlows: 0,
    materializedPackets: 0,
    countedFlows: 0,
    countedPackets: 0,
    unmaterializable: 0,
    attackFlows: 0,
  };
  readonly substrate: Substrate;
  readonly fleet: ApplianceFleet;
  readonly attacks: AttackPlan;
  readonly startMs: number;
  readonly stepMs: number;
  readonly #opts: EmulatorOptions;
  readonly #log: Logger;
  readonly #forwarder: OverlayForwarder;
  readonly #apps: AppState[] = [];
  readonly #rng: Rng;
  readonly #script: ScriptRunner;
  #cursor: number;
  #flowIds = 0;
  readonly #nextId = (): number => ++this.#flowIds;
  readonly #seed: number;
  #timer: { cancel(): void } | null = null;
  readonly #subscriptions: { unsubscribe(): void }[] = [];
  readonly #materialize: Materialize;
  readonly #batch = new FlowBatch();
  readonly #frameMemory: FrameMemory | null;
  /** Per application over the step: flows not dropped for capacity, and their bytes. */
  readonly #served: Float64Array;
  readonly #servedBytes: Float64Array;
  readonly #routes: (RouteTo | null)[];
  /** Each application's service address as a number (IPv4; 0 otherwise), for flow records. */
  readonly #server4: Uint32Array;
  readonly #record = new FlowRecord();

  constructor(opts: EmulatorOptions) {
    this.#opts = opts;
    this.#log = opts.logger ?? silentLogger();
    const emu = opts.config.emulation ?? { seed: 1, start: '2026-01-05T00:00:00Z', step: 10, script: [], attacks: [], threatList: [] };
    this.startMs = opts.clock.now();
    this.stepMs = Math.max(1, Math.round(emu.step * 1000));
    this.#cursor = this.startMs;
    this.#rng = createRng(emu.seed);
    this.#seed = emu.seed;
    this.#materialize = opts.materialize ?? { mode: 'none' };
    this.#frameMemory = opts.reuseFrameMemory ? new FrameMemory() : null;
    this.substrate = new Substrate(opts.config);
    const rii = opts.rii;
    // Route decisions are cached per (vnet, destination) until the vnet's routing table changes:
    // every change of the table is published on the bus as a RouteEvent, which empties the cache.
    const routeCache = new Map<string, Map<string, RouteLookupResult | null>>();
    for (const v of opts.config.vnets) {
      const cache = new Map<string, RouteLookupResult | null>();
      routeCache.set(v.name, cache);
      this.#subscriptions.push(rii.bus.subscribe(routeEventTopic(v.name), () => cache.clear()));
    }
    this.#forwarder = new OverlayForwarder({
      config: opts.config,
      substrate: this.substrate,
      lookup: (vnet: string, address: string) => {
        const cache = routeCache.get(vnet);
        const hit = cache?.get(address);
        if (hit !== undefined) return hit;
        const e = rii.rib(vnet).lookup(address);
        const r = e ? { nextHops: e.ecmp.map((p) => p.attributes.nextHop).filter((h): h is string => h !== null), prefixLength: e.prefix.length } : null;
        if (cache) {
          if (cache.size >= 65536) cache.clear();
          cache.set(address, r);
        }
        return r;
      },
    });
    for (const v of opts.config.vnets)
      for (const app of v.applications) {
        const service = serviceAddress(v, app);
        const plan = appFlowPlan(app, v.name, app.clients, service);
        this.#apps.push({ vnet: v, app, service, clients: app.clients, plan, allocation: { cores: app.resources.cores, memoryMiB: app.resources.memoryMiB } });
        // Plans are indexed like the applications (rows of IPv6 applications carry objects instead).
        this.#batch.plans.push(plan);
      }
    this.#served = new Float64Array(this.#apps.length);
    this.#servedBytes = new Float64Array(this.#apps.length);
    this.#routes = new Array<RouteTo | null>(this.#apps.length).fill(null);
    this.#server4 = Uint32Array.from(this.#apps, (a) => {
      const b = parseAddress(a.service);
      return b.length === 4 ? ipv4ToNumber(b) : 0;
    });
    this.fleet = new ApplianceFleet({ config: opts.config, clock: opts.clock, logger: this.#log.child({ component: 'appliances' }), mrt: opts.mrt });
    // One flow-id sequence for applications and attacks: ids are unique within a run.
    this.attacks = new AttackPlan({ config: opts.config, startMs: this.startMs, nextFlowId: () => ++this.#flowIds });
    this.#script = new ScriptRunner({ config: opts.config, fleet: this.fleet, clock: opts.clock, startMs: this.startMs, attacks: this.attacks });
  }

  /** Ground truth of every attack of the run. */
  labels(): readonly AttackLabel[] {
    return this.attacks.labels;
  }

  /** Change an application's allocated capacity (the resource pool manager's lever). */
  setAllocation(vnet: string, app: string, allocation: { cores?: number; memoryMiB?: number }): void {
    const s = this.#apps.find((a) => a.vnet.name === vnet && a.app.name === app);
    if (!s) throw new Error(`no application ${vnet}/${app}`);
    s.allocation = { cores: allocation.cores ?? s.allocation.cores, memoryMiB: allocation.memoryMiB ?? s.allocation.memoryMiB };
  }

  /** Connect the appliances and schedule the routing script; `waitRoutes` waits for their sessions. */
  async start(opts: { waitEstablished?: boolean } = {}): Promise<void> {
    await this.fleet.start();
    if (opts.waitEstablished ?? true) await this.fleet.waitEstablished();
    this.#script.start();
  }

  /** Step every `stepMs` of the clock (real-time mode). */
  runOnClock(): void {
    this.#timer = this.#opts.clock.setRepeating(this.stepMs, () => {
      try {
        this.step();
      } catch (err) {
        this.#log.error({ err }, 'emulation step failed');
      }
    });
  }

  /** Generate, forward and deliver the traffic of the step ending now. */
  step(): void {
    const from = this.#cursor;
    const to = this.#opts.clock.now();
    if (to <= from) return;
    this.#cursor = to;
    const c = this.counters;
    c.steps++;
    const stepSeconds = (to - from) / 1000;
    this.substrate.beginStep(stepSeconds);
    // The step's flows as columns, applications in order then attacks; objects only where needed.
    const batch = this.#batch;
    batch.clear();
    const apps = this.#apps;
    const genOpts = { startMs: this.startMs, seed: this.#seed, nextId: this.#nextId };
    for (let k = 0; k < apps.length; k++) {
      const a = apps[k];
      if (a.plan !== null) generateAppBatch(batch, k, from, to, this.#rng, genOpts);
      else for (const f of generateAppFlows(a.app, a.vnet.name, a.clients, a.service, from, to, this.#rng, genOpts)) batch.push(f, k);
    }
    const attackFlows = this.attacks.attackFlows(from, to, this.#rng);
    c.attackFlows += attackFlows.length;
    for (const x of attackFlows) batch.push(x, -1);

    const forwarder = this.#forwarder;
    // The routing table cannot change while the step runs: one decision per application's service.
    const routes = this.#routes;
    for (let k = 0; k < apps.length; k++) routes[k] = apps[k].plan === null ? null : forwarder.routeTo(apps[k].vnet.name, apps[k].service);
    const served = this.#served.fill(0);
    const servedBytes = this.#servedBytes.fill(0);
    const n = batch.length;
    const mark = batch.mark;
    for (let i = 0; i < n; i++) {
      c.flows++;
      const packets = batch.packetsToServer[i] + batch.packetsToClient[i];
      const bytes = batch.bytesToServer[i] + batch.bytesToClient[i];
      c.packets += packets;
      c.bytes += bytes;
      const k = batch.app[i];
      if (k >= 0) {
        served[k]++;
        servedBytes[k] += bytes;
      }
      const o = batch.objects[i];
      let reason: DropReason | null;
      if (o !== undefined) {
        const r = forwarder.forward(o);
        reason = r.ok ? null : r.reason;
      } else
        reason = forwarder.forwardV4(routes[k]!, batch.client[i], batch.clientPort[i], apps[k].app.port, batch.protocol[i], packets, bytes, batch.id[i]);
      if (reason !== null) {
        c.droppedFlows[reason] = (c.droppedFlows[reason] ?? 0) + 1;
        c.droppedPackets[reason] = (c.droppedPackets[reason] ?? 0) + packets;
        mark[i] = DROPPED;
      } else mark[i] = DELIVERED;
    }
    const linkResult = forwarder.endStep();
    // Most steps drop nothing for capacity: no set to build or consult then.
    const capacityDropped = linkResult.droppedFlowIds.length > 0 ? new Set<number>(linkResult.droppedFlowIds) : null;
    if (capacityDropped)
      for (let i = 0; i < n; i++) {
        if (mark[i] !== DELIVERED || !capacityDropped.has(batch.id[i])) continue;
        mark[i] = DROPPED;
        const packets = batch.packetsToServer[i] + batch.packetsToClient[i];
        c.droppedFlows.capacity = (c.droppedFlows.capacity ?? 0) + 1;
        c.droppedPackets.capacity = (c.droppedPackets.capacity ?? 0) + packets;
        const k = batch.app[i];
        if (k >= 0) {
          served[k]--;
          servedBytes[k] -= batch.bytesToServer[i] + batch.bytesToClient[i];
        }
      }
    this.#deliver(batch);
    this.#samples(to, stepSeconds);
  }

  #deliver(batch: FlowBatch): void {
    const m = this.#materialize;
    const onFrame = this.#opts.onFrame;
    if (m.mode === 'none' || !onFrame) return;
    const wants = m.mode === 'select' ? m.wants : null;
    const onFlow = this.#opts.onFlow;
    // Rows given as counts (select), delivered by start time among the frames, with the directions given so.
    const counted: number[] = [];
    const countedDirections: number[] = [];
    const rec = this.#record;
    // The step's frames in parallel arrays (no object per frame), then delivered in time order.
    const frames: Uint8Array[] = [];
    const times: number[] = [];
    const owners: Flow[] = [];
    const toServers: boolean[] = [];
    let flow: Flow | undefined;
    const push = (frame: Uint8Array, t: number, toServer: boolean): void => {
      frames.push(frame);
      times.push(t);
      owners.push(flow!);
      toServers.push(toServer);
    };
    const sample = m.mode === 'sample';
    const oneIn = sample ? m.oneIn : 1;
    const memory = this.#frameMemory;
    if (memory) {
      // The last step's frames have all been handed over: their slabs take this step's.
      memory.reuse();
      useFrameMemory(memory);
    }
    try {
      for (let i = 0; i < batch.length; i++) {
        if (batch.mark[i] !== DELIVERED) continue;
        // Sampling reads the id alone: the flow object is built only for the flows that become packets.
        if (sample && !sampledFlow(batch.id[i], oneIn)) continue;
        let directions: number = FlowDirection.BOTH;
        // A flow that cannot be described as a record (addresses of two families) goes the packet way, and fails there, counted.
        if (wants !== null && this.#fixedTuple(batch, i) && this.#fillRecord(batch, i, rec)) {
          directions = wants(rec) & FlowDirection.BOTH;
          if (directions === FlowDirection.NONE) {
            counted.push(i);
            countedDirections.push(FlowDirection.BOTH);
            continue;
          }
        }
        const f = batch.flow(i);
        const before = frames.length;
        flow = f;
        try {
          materializeFlow(f, push, directions);
          this.counters.materializedFlows++;
          if (directions !== FlowDirection.BOTH) {
            counted.push(i);
            countedDirections.push(FlowDirection.BOTH & ~directions);
          }
        } catch (err) {
          // A flow whose counts cannot be realised as packets: counted, never fatal.
          frames.length = times.length = owners.length = toServers.length = before;
          this.counters.unmaterializable++;
          this.#log.warn({ err, flow: f.id, kind: f.kind }, 'flow could not be turned into packets');
        }
      }
    } finally {
      if (memory) useFrameMemory(null);
    }
    const n = frames.length;
    this.counters.materializedPackets += n;
    const order = new Uint32Array(n);
    for (let i = 0; i < n; i++) order[i] = i;
    // Ties keep the order the frames were made in (flow order, then within the flow).
    order.sort((a, b) => times[a] - times[b] || a - b);
    // Flows given as counts go before the frames of their start time and later.
    const starts = batch.start;
    const byStart = Uint32Array.from(counted.keys()).sort((a, b) => starts[counted[a]] - starts[counted[b]] || a - b);
    let next = 0;
    for (let k = 0; k < n; k++) {
      const i = order[k];
      for (; next < byStart.length && starts[counted[byStart[next]]] <= times[i]; next++) this.#countedFlow(batch, counted[byStart[next]], countedDirections[byStart[next]], rec, onFlow);
      onFrame(frames[i], times[i], owners[i], toServers[i]);
    }
    for (; next < byStart.length; next++) this.#countedFlow(batch, counted[byStart[next]], countedDirections[byStart[next]], rec, onFlow);
  }

  /** Row i's `directions` given to onFlow as counts (the other direction's counts zero). */
  #countedFlow(batch: FlowBatch, i: number, directions: number, rec: FlowRecord, onFlow: ((flow: FlowRecord) => void) | undefined): void {
    this.#fillRecord(batch, i, rec);
    if ((directions & FlowDirection.TO_SERVER) === 0) rec.packetsToServer = rec.bytesToServer = 0;
    if ((directions & FlowDirection.TO_CLIENT) === 0) rec.packetsToClient = rec.bytesToClient = 0;
    this.counters.countedFlows++;
    this.counters.countedPackets += rec.packetsToServer + rec.packetsToClient;
    onFlow?.(rec);
  }

  /** Whether every packet of row i carries the flow's five-tuple (scans visit many ports, floods spoof their sources). */
  #fixedTuple(batch: FlowBatch, i: number): boolean {
    const o = batch.objects[i];
    const kind = o !== undefined ? o.kind : batch.plans[batch.app[i]]!.kind;
    return kind !== 'port-scan' && kind !== 'syn-flood';
  }

  /** Row i of the step's batch as a flow record; false when its addresses do not make one. */
  #fillRecord(batch: FlowBatch, i: number, rec: FlowRecord): boolean {
    const o = batch.objects[i];
    if (o !== undefined) {
      rec.vnet = o.vnet;
      const client = tryParseAddress(o.client);
      const server = tryParseAddress(o.server);
      if (!client || !server || client.length !== server.length) return false;
      rec.setAddresses(client, server);
      rec.clientPort = o.clientPort;
      rec.serverPort = o.serverPort;
    } else {
      const k = batch.app[i];
      rec.vnet = this.#apps[k].vnet.name;
      rec.ipVersion = 4;
      rec.client4 = batch.client[i];
      rec.server4 = this.#server4[k];
      rec.clientPort = batch.clientPort[i];
      rec.serverPort = this.#apps[k].app.port;
    }
    rec.id = batch.id[i];
    rec.protocol = batch.protocol[i];
    rec.startMs = batch.start[i];
    rec.endMs = batch.start[i] + batch.duration[i];
    rec.packetsToServer = batch.packetsToServer[i];
    rec.bytesToServer = batch.bytesToServer[i];
    rec.packetsToClient = batch.packetsToClient[i];
    rec.bytesToClient = batch.bytesToClient[i];
    return true;
  }

  #samples(time: number, stepSeconds: number): void {
    const onSample = this.#opts.onSample;
    if (!onSample) return;
    for (let k = 0; k < this.#apps.length; k++) {
      const a = this.#apps[k];
      const rps = this.#served[k] / stepSeconds;
      const u = appUsage(a.app, rps, a.allocation);
      onSample({
        time,
        vnet: a.vnet.name,
        app: a.app.name,
        requestsPerSecond: rps,
        bitsPerSecond: (this.#servedBytes[k] * 8) / stepSeconds,
        cpuCores: u.cpuCores,
        memoryMiB: u.memoryMiB,
        allocatedCores: a.allocation.cores,
        allocatedMemoryMiB: a.allocation.memoryMiB,
        saturation: u.saturation,
      });
    }
  }

  async stop(): Promise<void> {
    this.#timer?.cancel();
    for (const s of this.#subscriptions.splice(0)) s.unsubscribe();
    this.#script.stop();
    await this.fleet.stop();
  }
}

/** Whether flow `id` is among the 1 in `oneIn` flows `materialize: sample` keeps (a hash of the id). */
export function sampledFlow(id: number, oneIn: number): boolean {
  return hashId(id) % oneIn === 0;
}

function hashId(id: number): number {
  let h = Math.imul(id ^ 0x9e3779b9, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

export { parseOffset };
