import { CliError } from '../cli-context';
import { parseMemoryMb, quotaCommand } from './queue.commands';

describe('myelin quota', () => {
  it('reads memory sizes in binary and decimal units, MB by default', () => {
    expect(parseMemoryMb('16Gi')).toBe(16384);
    expect(parseMemoryMb('512Mi')).toBe(512);
    expect(parseMemoryMb('2G')).toBe(2000);
    expect(parseMemoryMb('1500')).toBe(1500);
    expect(parseMemoryMb('1.5Gi')).toBe(1536);
  });

  it('refuses what is not a size, as a usage error', () => {
    for (const bad of ['lots', '-1Gi', '16 parsecs', '']) {
      expect(() => parseMemoryMb(bad)).toThrow(CliError);
    }
    try {
      parseMemoryMb('lots');
    } catch (error) {
      expect((error as CliError).exitCode).toBe(2);
    }
  });

  it('has ls, set and rm', () => {
    expect(quotaCommand().commands.map((c) => c.name())).toEqual(['ls', 'set', 'rm']);
  });
});
