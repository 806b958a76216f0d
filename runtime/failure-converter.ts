/**
 * Failure messages and stack traces go through the payload codec too, so an
 * error that quotes job input never reaches the server in plaintext. Loaded
 * by path inside the workflow sandbox (`failureConverterPath`), hence a
 * module of its own with no other imports.
 */
import { DefaultFailureConverter } from '@temporalio/common';

export const failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });
