import { SetMetadata } from '@nestjs/common';

export const IS_PUBLIC = 'myelin:isPublic';
/** Marks a route that needs no token (health checks, login). Everything else is authenticated. */
export const Public = (): MethodDecorator & ClassDecorator => SetMetadata(IS_PUBLIC, true);
