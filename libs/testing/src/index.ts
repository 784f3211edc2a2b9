export * from './test-ids';
export * from './test-database';
export * from './temp-dir';
