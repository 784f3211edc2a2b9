import { BadRequestException, Controller, Get, Inject, Param, ParseUUIDPipe, Put, Query, Req, Res, UnsupportedMediaTypeException } from '@nestjs/common';
import { posix } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Response } from 'express';
import { ApiBody, ApiConsumes, ApiOperation, ApiProduces, ApiSecurity, ApiTags } from '@nestjs/swagger';
import type { ArtifactEntry, ArtifactStore } from '@myelin/artifacts';
import { AuthenticatedRequest, extractToken } from '@myelin/runtime';
import { BusTokenVerifier } from '../auth/bus-token-verifier';
import { OutputsPathQueryDto } from './dto';
import { toHttpError } from './outputs.errors';
import { ARTIFACT_STORE } from './outputs.tokens';

/** `filename="..."` safe for any name: ASCII fallback plus the RFC 5987 form. */
function attachment(name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]|["\\]/g, '_');
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(name)}`;
}

/**
 * A run's outputs (artifacts and checkpoints): tree, one file, upload, everything as .tar.gz.
 * Bytes are streamed both ways; reads need read access to the run, uploads write access, asked of
 * the API like every tracking route (404 for a run the token may not see).
 */
@ApiTags('tracking')
@ApiSecurity('token')
@Controller('api/v1/tracking/runs/:uuid/outputs')
export class OutputsController {
  constructor(
    @Inject(ARTIFACT_STORE) private readonly store: ArtifactStore,
    private readonly verifier: BusTokenVerifier,
  ) {}

  private async authorize(req: AuthenticatedRequest, uuid: string, want: 'read' | 'write'): Promise<void> {
    await this.verifier.requireRunAccess(extractToken(req.headers.authorization) as string, uuid, want);
  }

  @Get('tree')
  @ApiOperation({ summary: "The run's outputs as a recursive tree of files and folders (`path`: a folder)" })
  async tree(@Req() req: AuthenticatedRequest, @Param('uuid', ParseUUIDPipe) uuid: string, @Query() q: OutputsPathQueryDto): Promise<{ entries: ArtifactEntry[] }> {
    await this.authorize(req, uuid, 'read');
    try {
      return { entries: await this.store.list(uuid, q.path ?? '') };
    } catch (error) {
      throw toHttpError(error);
    }
  }

  @Get('file')
  @ApiOperation({ summary: 'One file of the outputs, streamed' })
  @ApiProduces('application/octet-stream')
  async file(@Req() req: AuthenticatedRequest, @Res() res: Response, @Param('uuid', ParseUUIDPipe) uuid: string, @Query() q: OutputsPathQueryDto): Promise<void> {
    await this.authorize(req, uuid, 'read');
    if (!q.path) throw new BadRequestException('path: the file to download is required');
    let file;
    try {
      file = await this.store.read(uuid, q.path);
    } catch (error) {
      throw toHttpError(error);
    }
    res.status(200).set({
      'Content-Type': 'application/octet-stream',
      'Content-Length': String(file.size),
      'Content-Disposition': attachment(posix.basename(q.path)),
    });
    // A failure midway (storage gone, client gone) cuts the response: the client sees a short body.
    await pipeline(file.stream, res).catch(() => undefined);
  }

  /** The request body is the file, streamed to the store (any content type but JSON, which the body parser would consume). */
  @Put('file')
  @ApiOperation({ summary: 'Upload one file to the outputs: the raw bytes as the body (application/octet-stream), streamed' })
  @ApiConsumes('application/octet-stream')
  @ApiBody({ schema: { type: 'string', format: 'binary' } })
  async upload(@Req() req: AuthenticatedRequest, @Param('uuid', ParseUUIDPipe) uuid: string, @Query() q: OutputsPathQueryDto): Promise<{ path: string; size: number }> {
    await this.authorize(req, uuid, 'write');
    if (!q.path) throw new BadRequestException('path: where to store the file is required');
    if ((req as { _body?: boolean })._body || req.readableEnded) {
      throw new UnsupportedMediaTypeException('send the file as the raw body with Content-Type: application/octet-stream');
    }
    try {
      return await this.store.write(uuid, q.path, req as Readable);
    } catch (error) {
      throw toHttpError(error);
    }
  }

  @Get('download')
  @ApiOperation({ summary: 'The outputs (or the folder `path`) as a .tar.gz, streamed' })
  @ApiProduces('application/gzip')
  async download(@Req() req: AuthenticatedRequest, @Res() res: Response, @Param('uuid', ParseUUIDPipe) uuid: string, @Query() q: OutputsPathQueryDto): Promise<void> {
    await this.authorize(req, uuid, 'read');
    let archive: Readable;
    try {
      archive = await this.store.tarGz(uuid, q.path ?? '');
    } catch (error) {
      throw toHttpError(error);
    }
    const folder = (q.path ?? '').split('/').filter((s) => s && s !== '.').join('-');
    res.status(200).set({
      'Content-Type': 'application/gzip',
      'Content-Disposition': attachment(`${uuid.slice(0, 8)}-outputs${folder ? `-${folder}` : ''}.tar.gz`),
    });
    await pipeline(archive, res).catch(() => undefined);
  }
}
