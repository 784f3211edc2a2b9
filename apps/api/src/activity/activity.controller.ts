import { Controller, ForbiddenException, Get, HttpCode, Post, Query, Req } from '@nestjs/common';
import { RetentionService } from '../projects/retention.service';
import { ApiOperation, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { AuthenticatedRequest } from '@myelin/runtime';
import { page, PageQueryDto } from '../common/pagination';
import { ActivityService } from './activity.service';

@ApiTags('activity')
@ApiSecurity('token')
@Controller('api/v1')
export class ActivityController {
  constructor(
    private readonly activity: ActivityService,
    private readonly retention: RetentionService,
  ) {}

  @Post('archives/purge')
  @HttpCode(200)
  @ApiOperation({ summary: 'Purge now what was archived longer than the retention period (superuser; also runs hourly)' })
  async purge(@Req() req: AuthenticatedRequest) {
    if (!req.identity.isSuperuser || req.identity.runUuid) throw new ForbiddenException('superuser only');
    return { purgedRuns: await this.retention.purge() };
  }

  @Get('activitylogs')
  @ApiOperation({ summary: 'Every change on the platform (superuser)' })
  async all(@Req() req: AuthenticatedRequest, @Query() q: PageQueryDto) {
    if (!req.identity.isSuperuser || req.identity.runUuid) throw new ForbiddenException('superuser only');
    const { count, results } = await this.activity.list(null, q.limit, q.offset);
    return page('/api/v1/activitylogs', {}, q, count, results);
  }
}
