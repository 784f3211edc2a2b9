export * from './test-ids';
export * from './test-database';
export * from './temp-dir';
export * from './s3-test-server';
export * from './private-rabbitmq';
export * from './free-port';
export * from './bus-prefix';
