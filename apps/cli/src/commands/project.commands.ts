import { Command } from 'commander';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CliError, createContext, EXIT } from '../cli-context';
import { printJson, table } from '../output/format';

interface ProjectView {
  fullName: string;
  name: string;
  owner: string;
  description: string;
  isPublic: boolean;
  tags: string[];
  role: string;
  archivedAt: string | null;
  createdAt: string;
}

const hostOpt = (c: Command) => c.option('--host <url>', 'API URL (default: $MYELIN_HOST or http://127.0.0.1:8000)');

/** `owner/name`, or a bare name in the caller's namespace. */
async function fullName(ctx: ReturnType<typeof createContext>, name: string): Promise<string> {
  return name.includes('/') ? name : `${(await ctx.client.whoami()).username}/${name}`;
}

export function projectCommand(): Command {
  const project = new Command('project').description('manage projects');
  project.addCommand(
    hostOpt(new Command('create'))
      .description('create a project')
      .argument('<name>', 'name, or "org/name" for an organization you administer')
      .option('--description <text>')
      .option('--public', 'readable by every user')
      .option('--tags <tags>', 'comma-separated tags')
      .option('--json', 'print the project as JSON')
      .action(async (name: string, opts: { description?: string; public?: boolean; tags?: string; json?: boolean; host?: string }) => {
        const [owner, bare] = name.includes('/') ? name.split('/') : [undefined, name];
        const created = await createContext(opts).client.call<ProjectView>('POST', '/api/v1/projects', {
          name: bare,
          ...(owner ? { owner } : {}),
          ...(opts.description ? { description: opts.description } : {}),
          isPublic: !!opts.public,
          ...(opts.tags ? { tags: opts.tags.split(',').map((t) => t.trim()).filter(Boolean) } : {}),
        });
        if (opts.json) printJson(created);
        else process.stdout.write(`Created project ${created.fullName}\n`);
      }),
  );
  project.addCommand(
    hostOpt(new Command('ls'))
      .description("list an owner's projects you can see")
      .argument('[owner]', 'user or organization (default: you)')
      .option('--archived', 'list archived projects')
      .option('--json', 'print the page as JSON')
      .action(async (owner: string | undefined, opts: { archived?: boolean; json?: boolean; host?: string }) => {
        const ctx = createContext(opts);
        const who = owner ?? (await ctx.client.whoami()).username;
        const pageOf = await ctx.client.call<{ count: number; results: ProjectView[] }>('GET', `/api/v1/${encodeURIComponent(who)}?limit=1000${opts.archived ? '&archived=true' : ''}`);
        if (opts.json) return printJson(pageOf);
        if (!pageOf.results.length) return void process.stdout.write('No projects.\n');
        process.stdout.write(`${table(['PROJECT', 'ROLE', 'PUBLIC', 'TAGS', 'DESCRIPTION'], pageOf.results.map((p) => [p.fullName, p.role, p.isPublic ? 'yes' : '', p.tags.join(','), p.description]))}\n`);
      }),
  );
  project.addCommand(
    hostOpt(new Command('get'))
      .description('show a project')
      .argument('<project>', 'name or owner/name')
      .option('--json', 'print as JSON')
      .action(async (name: string, opts: { json?: boolean; host?: string }) => {
        const ctx = createContext(opts);
        const p = await ctx.client.call<ProjectView & { readme: string; bookmarked: boolean }>('GET', `/api/v1/${await fullName(ctx, name)}`);
        if (opts.json) return printJson(p);
        for (const [k, v] of [['project', p.fullName], ['role', p.role], ['public', p.isPublic], ['tags', p.tags.join(', ')], ['archived', p.archivedAt ?? 'no'], ['description', p.description]] as const) {
          process.stdout.write(`${k.padEnd(12)} ${String(v)}\n`);
        }
        if (p.readme) process.stdout.write(`\n${p.readme}\n`);
      }),
  );
  project.addCommand(
    hostOpt(new Command('update'))
      .description('update a project')
      .argument('<project>', 'name or owner/name')
      .option('--name <name>', 'rename it')
      .option('--description <text>')
      .option('--readme <text>')
      .option('--public', 'make it readable by every user')
      .option('--private', 'make it private')
      .option('--tags <tags>', 'comma-separated tags (replaces)')
      .action(async (name: string, opts: { name?: string; description?: string; readme?: string; public?: boolean; private?: boolean; tags?: string; host?: string }) => {
        if (opts.public && opts.private) throw new CliError('--public and --private together', EXIT.usage);
        const ctx = createContext(opts);
        const body = {
          ...(opts.name ? { name: opts.name } : {}),
          ...(opts.description !== undefined ? { description: opts.description } : {}),
          ...(opts.readme !== undefined ? { readme: opts.readme } : {}),
          ...(opts.public ? { isPublic: true } : opts.private ? { isPublic: false } : {}),
          ...(opts.tags !== undefined ? { tags: opts.tags.split(',').map((t) => t.trim()).filter(Boolean) } : {}),
        };
        const p = await ctx.client.call<ProjectView>('PATCH', `/api/v1/${await fullName(ctx, name)}`, body);
        process.stdout.write(`Updated ${p.fullName}\n`);
      }),
  );
  for (const [verb, method, suffix, done] of [
    ['delete', 'DELETE', '', 'Deleted'],
    ['archive', 'POST', '/archive', 'Archived'],
    ['restore', 'POST', '/restore', 'Restored'],
  ] as const) {
    project.addCommand(
      hostOpt(new Command(verb))
        .description(`${verb} a project${verb === 'delete' ? ' with all its runs, logs, metrics and outputs' : ''}`)
        .argument('<project>', 'name or owner/name')
        .action(async (name: string, opts: { host?: string }) => {
          const ctx = createContext(opts);
          const target = await fullName(ctx, name);
          await ctx.client.call(method, `/api/v1/${target}${suffix}`);
          process.stdout.write(`${done} ${target}\n`);
        }),
    );
  }
  return project;
}

export function initCommand(): Command {
  return hostOpt(new Command('init'))
    .description('link this directory to a project (writes .myelin.json); later commands default to it')
    .argument('<project>', 'name or owner/name (it must exist)')
    .action(async (name: string, opts: { host?: string }) => {
      const ctx = createContext(opts);
      const target = await fullName(ctx, name);
      await ctx.client.call('GET', `/api/v1/${target}`); // exists and visible
      writeFileSync(join(process.cwd(), '.myelin.json'), `${JSON.stringify({ project: target }, null, 2)}\n`);
      process.stdout.write(`Linked ${process.cwd()} to ${target}\n`);
    });
}
