/** Every failure the dashboard shows: an HTTP error from the API, or the API being unreachable. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;

  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }

  /** The API could not be reached at all (down, offline, DNS, CORS). */
  get unreachable(): boolean {
    return this.status === 0;
  }
}

interface ErrorBody {
  error?: { code?: unknown; message?: unknown } | string;
  code?: unknown;
  message?: unknown;
  detail?: unknown;
}

function asText(value: unknown): string | undefined {
  if (typeof value === 'string' && value.length > 0) return value;
  if (Array.isArray(value)) {
    // FastAPI validation errors: [{loc, msg, type}, ...]
    const parts = value
      .map((item: unknown) =>
        item && typeof item === 'object' && 'msg' in item ? String((item as { msg: unknown }).msg) : undefined,
      )
      .filter((part): part is string => part !== undefined);
    return parts.length > 0 ? parts.join('; ') : undefined;
  }
  return undefined;
}

/** Reads the API's JSON error shape (and FastAPI's default `detail`) from a failed response. */
export async function errorFromResponse(response: Response): Promise<ApiError> {
  let body: ErrorBody | undefined;
  try {
    body = (await response.json()) as ErrorBody;
  } catch {
    body = undefined;
  }
  const nested = body && typeof body.error === 'object' ? body.error : undefined;
  const code =
    asText(nested?.code) ?? asText(body?.code) ?? (typeof body?.error === 'string' ? body.error : undefined);
  const message = asText(nested?.message) ?? asText(body?.message) ?? asText(body?.detail);
  return new ApiError(response.status, code ?? `http_${response.status}`, message ?? response.statusText);
}
