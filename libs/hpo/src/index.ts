// @myelin/hpo: wired into the workspace (path alias, Nx project, tags, lint boundaries) and empty
// until its issue lands. See README.md.
export {};
