// Bad-input tables: each row is a call and the typed error (class and message) it must raise.
import { expect } from 'vitest';

export interface ErrorRow {
  what: string;
  call: () => unknown;
  error: new (...args: never[]) => Error;
  message: RegExp;
}

/** Runs the row's call and checks it threw the row's error class with a matching message. */
export function expectRowError(row: ErrorRow): void {
  let caught: unknown;
  try {
    row.call();
  } catch (e) {
    caught = e;
  }
  expect(caught, 'expected an error').toBeInstanceOf(row.error);
  expect((caught as Error).message).toMatch(row.message);
}
