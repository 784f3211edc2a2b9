export * from './message-bus';
export * from './dispatcher';
export * from './in-process-bus';
export * from './amqp-bus';
export * from './create-bus';
export * from './nest/bus.server';
