import { parsePolyaxonfiles } from '@myelin/spec';
import { buildKey, describeCodeRef, generateDockerfile, imageReference, localBuildNotice, planBuild } from './build-plan';

const compiled = (content: string) => JSON.parse(JSON.stringify(parsePolyaxonfiles([{ path: 'polyaxonfile.yml', content }]))) as Record<string, unknown>;
const run = (content: string, over: Partial<{ runUuid: string; project: string; kind: string }> = {}) => {
  const spec = compiled(content);
  return { runUuid: '11111111-1111-4111-8111-111111111111', project: 'alice/mnist', kind: String(spec['kind']), spec, ...over };
};
const JOB = (build: string) => `version: 1\nkind: job\nbuild:\n${build}\nrun:\n  cmd: python train.py\n`;

describe('generateDockerfile', () => {
  it('writes FROM, the locale, env_vars, the code and one RUN per step, in that order', () => {
    expect(
      generateDockerfile(
        { image: 'python:3.12-slim', lang_env: 'en_US.UTF-8', env_vars: [['MODE', 'fast "x" $HOME'], ['N', '3']], build_steps: ['pip install -r requirements.txt', 'python -c "print(1)"'] },
        'busybox:1.36',
      ),
    ).toBe(
      [
        'FROM python:3.12-slim',
        'ENV LC_ALL="en_US.UTF-8"',
        'ENV LC_CTYPE="en_US.UTF-8"',
        'ENV LANG="en_US.UTF-8"',
        'ENV LANGUAGE="en_US.UTF-8"',
        'ENV MODE="fast \\"x\\" $HOME"',
        'ENV N="3"',
        'WORKDIR /myelin/code',
        'COPY . /myelin/code',
        'RUN pip install -r requirements.txt',
        'RUN python -c "print(1)"',
        '',
      ].join('\n'),
    );
  });

  it('uses the default image without one, continues multi-line steps, and refuses a bad variable name', () => {
    expect(generateDockerfile({ build_steps: ['apt-get update\napt-get install -y \\\n  curl'] }, 'busybox:1.36')).toBe(
      'FROM busybox:1.36\nWORKDIR /myelin/code\nCOPY . /myelin/code\nRUN apt-get update && \\\n    apt-get install -y \\\n      curl\n',
    );
    expect(() => generateDockerfile({ image: 'x', env_vars: [['A B', '1']] }, 'y')).toThrow('"A B" is not a valid environment variable name');
  });
});

describe('planBuild', () => {
  it('builds nothing for an image alone, and for a run without a build section', () => {
    expect(planBuild(run(JOB('  image: python:3.12-slim')), 'busybox')).toBeNull();
    expect(planBuild(run('version: 1\nkind: experiment\nrun:\n  cmd: echo\n'), 'busybox')).toBeNull();
  });

  it('builds for build steps, env_vars, lang_env or a dockerfile, and always for kind: build', () => {
    expect(planBuild(run(JOB('  image: python:3.12-slim\n  build_steps: [pip install numpy]')), 'b')?.dockerfile).toContain('RUN pip install numpy');
    expect(planBuild(run(JOB('  image: python:3.12-slim\n  env_vars: [[A, "1"]]')), 'b')?.dockerfile).toContain('ENV A="1"');
    expect(planBuild(run(JOB('  image: python:3.12-slim\n  lang_env: C.UTF-8')), 'b')?.dockerfile).toContain('ENV LANG="C.UTF-8"');
    const own = planBuild(run(JOB('  dockerfile: docker/Dockerfile.train\n  context: src/')), 'b');
    expect(own).toMatchObject({ dockerfile: null, dockerfilePath: 'docker/Dockerfile.train', context: 'src', buildOnly: false });
    const build = planBuild(run('version: 1\nkind: build\nimage: python:3.12-slim\n'), 'b');
    expect(build).toMatchObject({ buildOnly: true, nocache: false });
    expect(build?.dockerfile).toBe('FROM python:3.12-slim\nWORKDIR /myelin/code\nCOPY . /myelin/code\n');
  });

  it('keys by project, content and commit: equal for equal builds of one commit, unique per run without a commit', () => {
    const steps = '  image: python:3.12-slim\n  build_steps: [pip install numpy]\n  commit: 3f2a9c1';
    const a = planBuild(run(JOB(steps)), 'b')!;
    const b = planBuild(run(JOB(`${steps}\n  nocache: true`), { runUuid: '22222222-2222-4222-8222-222222222222' }), 'b')!;
    expect(a.key).toMatch(/^[0-9a-f]{64}$/);
    expect(b.key).toBe(a.key); // nocache changes whether to build, not what is built
    expect(b.nocache).toBe(true);
    expect(a.codeRef).toBe('commit:3f2a9c1');
    expect(planBuild(run(JOB(steps.replace('3f2a9c1', '3f2a9c2'))), 'b')!.key).not.toBe(a.key);
    expect(planBuild(run(JOB(steps), { project: 'bob/mnist' }), 'b')!.key).not.toBe(a.key);
    expect(planBuild(run(JOB(steps.replace('numpy', 'scipy'))), 'b')!.key).not.toBe(a.key);
    const noCommit = '  image: python:3.12-slim\n  build_steps: [pip install numpy]';
    const first = planBuild(run(JOB(noCommit)), 'b')!;
    expect(first.codeRef).toBe('run:11111111-1111-4111-8111-111111111111');
    expect(planBuild(run(JOB(noCommit), { runUuid: '33333333-3333-4333-8333-333333333333' }), 'b')!.key).not.toBe(first.key);
    // No code in the build context (no code claim): the section alone says what is built, so runs share it.
    const empty = planBuild(run(JOB(noCommit)), 'b', false)!;
    expect(empty.codeRef).toBe('none');
    expect(describeCodeRef(empty.codeRef)).toBe('no code in the build context');
    expect(describeCodeRef(a.codeRef)).toBe('commit 3f2a9c1');
    expect(planBuild(run(JOB(noCommit), { runUuid: '33333333-3333-4333-8333-333333333333' }), 'b', false)!.key).toBe(empty.key);
    expect(planBuild(run(JOB(noCommit.replace('numpy', 'scipy'))), 'b', false)!.key).not.toBe(empty.key);
    expect(empty.key).not.toBe(first.key);
    // A commit is the code's version whatever the context.
    expect(planBuild(run(JOB(steps)), 'b', false)!.key).toBe(a.key);
    // Key order in the section does not matter.
    expect(buildKey('p', { image: 'x', build_steps: ['a'] }, 'c')).toBe(buildKey('p', { build_steps: ['a'], image: 'x' }, 'c'));
  });
});

describe('imageReference and localBuildNotice', () => {
  it('names the image after the project, tagged with the key', () => {
    expect(imageReference('registry.example.com:5000/myelin/', 'Alice/MNIST_v2', 'a'.repeat(64))).toBe(`registry.example.com:5000/myelin/alice-mnist-v2:${'a'.repeat(40)}`);
  });

  it('says what the local executor did not apply', () => {
    expect(localBuildNotice(compiled(JOB('  image: python:3.12-slim\n  build_steps: [pip install numpy, pip install torch]')))).toBe(
      'image python:3.12-slim and build steps (2) were not applied: the local executor runs in the host environment',
    );
    expect(localBuildNotice(compiled(JOB('  image: python:3.12-slim')))).toBe('image python:3.12-slim was not applied: the local executor runs in the host environment');
    expect(localBuildNotice(compiled(JOB('  image: x\n  env_vars: [[A, "1"]]\n  lang_env: C.UTF-8')))).toBe(
      'image x, env_vars (A) and lang_env C.UTF-8 were not applied: the local executor runs in the host environment',
    );
    expect(localBuildNotice(compiled('version: 1\nkind: experiment\nrun:\n  cmd: echo\n'))).toBeNull();
  });
});
