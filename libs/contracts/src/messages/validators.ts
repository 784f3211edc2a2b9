import { registerDecorator, ValidationOptions } from 'class-validator';

/** Properties declared with IsPlainObject, by payload class (see opaquePropertiesOf). */
const opaqueProperties = new WeakMap<object, Set<string>>();

/**
 * The properties of a payload class that hold a JSON object the contract does not describe (a
 * run's params, a compiled spec): validated as an object, carried as they are. Turning them into
 * the class (class-transformer) would copy them member by member, and a 1,000-op pipeline's spec
 * is 150 kB of them (15-45 ms per copy, measured).
 */
export function opaquePropertiesOf(type: object): ReadonlySet<string> | undefined {
  return opaqueProperties.get(type);
}

/** A plain JSON object (not an array, not null), carried as it is (see opaquePropertiesOf). */
export function IsPlainObject(options?: ValidationOptions): PropertyDecorator {
  return (target: object, propertyName: string | symbol) => {
    const known = opaqueProperties.get(target.constructor) ?? new Set<string>();
    known.add(String(propertyName));
    opaqueProperties.set(target.constructor, known);
    registerDecorator({
      name: 'isPlainObject',
      target: target.constructor,
      propertyName: String(propertyName),
      options: { message: `${String(propertyName)} must be an object`, ...options },
      validator: {
        validate: (value: unknown) => typeof value === 'object' && value !== null && !Array.isArray(value),
      },
    });
  };
}
