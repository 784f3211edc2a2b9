import { BadRequestException } from '@nestjs/common';
import { IsInt, Min } from 'class-validator';
import { RequestValidationPipe } from './start-service';

class Sample {
  @IsInt() @Min(1) count!: number;
}

describe('RequestValidationPipe (the apps\' global pipe)', () => {
  const pipe = new RequestValidationPipe({ whitelist: true, forbidNonWhitelisted: true, transform: true });

  it('validates and transforms plain request bodies, refusing bad fields and unknown ones', async () => {
    const value = await pipe.transform({ count: 3 }, { type: 'body', metatype: Sample });
    expect(value).toBeInstanceOf(Sample);
    expect(value).toEqual({ count: 3 });
    await expect(pipe.transform({ count: 0 }, { type: 'body', metatype: Sample })).rejects.toBeInstanceOf(BadRequestException);
    await expect(pipe.transform({ count: 2, extra: true }, { type: 'body', metatype: Sample })).rejects.toBeInstanceOf(BadRequestException);
  });

  it('passes an instance of the declared class as it is (a bus payload, built by the bus after it validated it)', async () => {
    const payload = Object.assign(new Sample(), { count: 0 }); // would fail the rules: not checked again
    expect(await pipe.transform(payload, { type: 'body', metatype: Sample })).toBe(payload);
  });

  it('still validates a plain object that merely looks like an instance', async () => {
    await expect(pipe.transform({ count: 0, constructor: Sample }, { type: 'body', metatype: Sample })).rejects.toBeInstanceOf(BadRequestException);
  });
});
