export * from './api-error';
export * from './types';
export * from './client';
export * from './tracker';
export * from './code-tree';
export * from './run-outputs';
