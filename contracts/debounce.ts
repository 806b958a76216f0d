/**
 * Debounced creates (`debounce: { key, delay }` on `POST /v1/jobs`): one
 * debouncer workflow per (tenant, key) collects the creates of a burst and
 * starts one job with the latest input once no create came for `delay`
 * (workflows/debounce.ts). What the API, the workflow and its activity share;
 * safe in the workflow sandbox (types and constants only).
 */

/** The workflow type of a debouncer (not a job type: it has no jobs row, and no job events). */
export const debounceWorkflowType = 'debounceWorkflow';
/** Catalog queue the debouncer runs on: its one activity is quick Postgres and Temporal work. */
export const debounceTaskQueue = 'default';
/** Name of the update each create sends (update-with-start). */
export const debounceCreateUpdateName = 'debounce-create';
/** Failure type the update's validator refuses with once the burst is over and its job is starting. */
export const debounceClosedFailureType = 'DebounceClosed';
/** Longest `delay` and `maxWait`: a debouncer is a short-lived collector, not a timer service. */
export const maxDebounceSeconds = 24 * 3600;

/** One create of a burst: the job it asks for, and who asked. The latest one is the job's. */
export interface DebouncedCreate {
  type: string;
  input: unknown;
  labels: string[];
  priority: number | null;
  callbackUrl: string | null;
  createdByKeyId: string;
  requestId: string;
}

/** Start arguments of a debouncer run (and of its continue-as-new). */
export interface DebounceArgs {
  tenantId: string;
  key: string;
  /** The id the burst's job will have: known to every create of the burst from the first one on. */
  jobId: string;
  delayMs: number;
  /** Start at the latest this long after the burst's first create, even if creates keep coming. */
  maxWaitMs: number | null;
  /** Carried over a continue-as-new: the burst so far. */
  carried?: { latest: DebouncedCreate; creates: number; openedAt: number; lastAt: number };
}

/** What the update answers each create, and the workflow's result. */
export interface DebounceAnswer {
  jobId: string;
  /** Creates the burst has had so far (this one included). */
  creates: number;
}

/**
 * The debouncer's one activity (claim, start, record the job): quick, and
 * retried long, because an accepted burst must become its job.
 */
export const debounceStartProfile = {
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
} as const;
