/** The JSON shape of a run in every API response (and what the SDK returns). */
export interface RunView {
  uuid: string;
  number: number;
  /** `owner/name`. */
  project: string;
  /** `owner.project.number`, as Polyaxon named runs. */
  uniqueName: string;
  kind: string;
  name: string | null;
  description: string;
  tags: string[];
  status: string;
  statusReason: string;
  statusMessage: string;
  exitCode: number | null;
  params: Record<string, unknown>;
  parentUuid: string | null;
  originalUuid: string | null;
  /** False for a run tracked from outside the platform (it reports its own status). */
  managed: boolean;
  createdAt: string;
  updatedAt: string;
  startedAt: string | null;
  finishedAt: string | null;
}
