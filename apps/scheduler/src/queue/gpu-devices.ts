/**
 * GPU devices of the local executor's host: which device ids a run gets (CUDA_VISIBLE_DEVICES), so
 * that two live runs never share one. Pure: the scheduler feeds it the configured ids and the live
 * runs' rows (the database is the source of truth, so a restarted scheduler rebuilds the same
 * picture), and stores what it chooses on the run's row before the process starts.
 */

/** One device id: an ordinal (`0`) or a UUID (`GPU-8f3c…`, `MIG-…`), as CUDA_VISIBLE_DEVICES accepts them. */
export const DEVICE_ID = /^[A-Za-z0-9][A-Za-z0-9_:.-]*$/;
/** MYELIN_GPU_DEVICES: empty, or device ids separated by commas (spaces allowed around them). */
export const DEVICE_LIST = /^\s*([A-Za-z0-9][A-Za-z0-9_:.-]*(\s*,\s*[A-Za-z0-9][A-Za-z0-9_:.-]*)*)?\s*$/;

/** `"0, 1,2"` → `['0', '1', '2']`; empty or unset → none; a repeated id counts once. */
export function parseDeviceList(text: string | undefined): string[] {
  const ids = (text ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  return [...new Set(ids)];
}

/** Whole devices a run needs: the polyaxonfile's `gpu` is a number, and a fraction still takes a device. */
export function devicesNeeded(gpu: number): number {
  return Number.isFinite(gpu) && gpu > 0 ? Math.ceil(gpu) : 0;
}

/** The devices live runs hold, from their rows (devices no longer configured are ignored by `chooseDevices`). */
export function heldDevices(rows: ReadonlyArray<{ devices: string[] | null }>): Set<string> {
  const held = new Set<string>();
  for (const row of rows) for (const id of row.devices ?? []) held.add(id);
  return held;
}

/**
 * `count` devices of `configured` that nobody holds, in the configured order (so runs fill the
 * first devices first and the choice is reproducible), or null when fewer are free.
 */
export function chooseDevices(
  configured: readonly string[],
  held: ReadonlySet<string>,
  count: number,
): string[] | null {
  if (count <= 0) return [];
  const free = configured.filter((id) => !held.has(id));
  return free.length >= count ? free.slice(0, count) : null;
}

/**
 * The devices of one admission pass: built from the live runs' rows, then each run started in the
 * pass takes its devices from it, so two runs started in the same pass never get the same one.
 */
export class DeviceLedger {
  private readonly held: Set<string>;

  constructor(
    readonly configured: readonly string[],
    liveRows: ReadonlyArray<{ devices: string[] | null }>,
  ) {
    this.held = heldDevices(liveRows);
  }

  /** Devices on this host (what admission compares a run's demand with). */
  get total(): number {
    return this.configured.length;
  }

  /** Configured devices no live run holds. */
  get free(): number {
    return this.configured.filter((id) => !this.held.has(id)).length;
  }

  /**
   * What to store on a run's row before it starts: `{ devices: null }` when this host has no devices
   * configured (the job's environment is left as it is), else the run's devices (`[]` when it asks
   * none: it sees none); null when too few are free (the run must not start now).
   */
  assign(gpu: number): { devices: string[] | null } | null {
    if (this.total === 0) return devicesNeeded(gpu) > 0 ? null : { devices: null };
    const devices = this.take(gpu);
    return devices ? { devices } : null;
  }

  /**
   * The devices for a run asking `gpu`: [] when it asks none, null when not enough are free (the
   * run must not start now). The chosen ids are held from now on.
   */
  take(gpu: number): string[] | null {
    const chosen = chooseDevices(this.configured, this.held, devicesNeeded(gpu));
    if (chosen) for (const id of chosen) this.held.add(id);
    return chosen;
  }
}

/** The ledger of an admission pass: only the local executor hands out devices (Kubernetes places GPUs itself). */
export function ledgerFor(
  executor: string,
  configured: string,
  liveRows: ReadonlyArray<{ devices: string[] | null }>,
): DeviceLedger | null {
  return executor === 'local' ? new DeviceLedger(parseDeviceList(configured), liveRows) : null;
}
