import { Controller, ForbiddenException, Get, Query, Req } from '@nestjs/common';
import { ApiOperation, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { AuthenticatedRequest } from '@myelin/runtime';
import { page, PageQueryDto } from '../common/pagination';
import { ActivityService } from './activity.service';

@ApiTags('activity')
@ApiSecurity('token')
@Controller('api/v1/activitylogs')
export class ActivityController {
  constructor(private readonly activity: ActivityService) {}

  @Get()
  @ApiOperation({ summary: 'Every change on the platform (superuser)' })
  async all(@Req() req: AuthenticatedRequest, @Query() q: PageQueryDto) {
    if (!req.identity.isSuperuser || req.identity.runUuid) throw new ForbiddenException('superuser only');
    const { count, results } = await this.activity.list(null, q.limit, q.offset);
    return page('/api/v1/activitylogs', {}, q, count, results);
  }
}
