import 'reflect-metadata';
import { runStandalone } from '@myelin/runtime';
import { bootstrap } from './bootstrap';

void runStandalone('pipelines', bootstrap);
