/**
 * gRPC status codes the platform acts on, and how to read one off whatever
 * the Temporal SDK threw: a raw gRPC error from `workflowService` calls, or a
 * `ServiceError` of the high-level client wrapping one.
 */
import { isGrpcServiceError, ServiceError } from '@temporalio/client';

export const grpcStatus = {
  CANCELLED: 1,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  UNAVAILABLE: 14,
} as const;

/** The gRPC status code of the server's answer under `err`, if it is one. */
export function grpcCodeOf(err: unknown): number | undefined {
  if (isGrpcServiceError(err)) return err.code;
  const cause = err instanceof ServiceError ? err.cause : undefined;
  return isGrpcServiceError(cause) ? cause.code : undefined;
}
