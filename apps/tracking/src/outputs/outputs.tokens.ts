/** The ArtifactStore (@myelin/artifacts) holding runs' outputs. */
export const ARTIFACT_STORE = Symbol('ARTIFACT_STORE');
