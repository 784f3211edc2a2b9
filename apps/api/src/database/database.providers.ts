import { DataSource } from 'typeorm';
import { AccountsRepository, RunsRepository } from '@myelin/persistence';

export const CORE_DATA_SOURCE = Symbol('CORE_DATA_SOURCE');
export const API_ENV = Symbol('API_ENV');

export const repositoryProviders = [
  { provide: AccountsRepository, inject: [CORE_DATA_SOURCE], useFactory: (ds: DataSource) => new AccountsRepository(ds) },
  { provide: RunsRepository, inject: [CORE_DATA_SOURCE], useFactory: (ds: DataSource) => new RunsRepository(ds) },
];
