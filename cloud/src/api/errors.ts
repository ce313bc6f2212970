/**
 * The API's error catalogue: every error a client can get has a stable code, an HTTP status and
 * a message a person can act on. Bodies look like `{ "error": { "code", "message", "fields"? } }`.
 */
export interface ApiFieldIssue {
  /** Where the problem is, e.g. `querystring.point` or `params.id`. */
  field: string;
  message: string;
}

export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly fields?: ApiFieldIssue[],
  ) {
    super(message);
  }

  toBody() {
    return { error: { code: this.code, message: this.message, ...(this.fields ? { fields: this.fields } : {}) } };
  }
}

export const errors = {
  invalidRequest: (fields: ApiFieldIssue[]) =>
    new ApiError(400, 'invalid_request', fields.map((f) => `${f.field}: ${f.message}`).join('; '), fields),
  deviceNotFound: (id: string) => new ApiError(404, 'device_not_found', `no device "${id}"`),
  siteNotFound: (id: string) => new ApiError(404, 'site_not_found', `no site "${id}"`),
  storeUnavailable: (message: string) => new ApiError(503, 'store_unavailable', message),
  queryRejected: (message: string) => new ApiError(400, 'query_rejected', message),
  routeNotFound: (method: string, url: string) => new ApiError(404, 'route_not_found', `no route ${method} ${url}`),
  unauthenticated: () => new ApiError(401, 'unauthenticated', 'log in (POST /api/v1/auth/login) or send an API token as "Authorization: Bearer …"'),
  forbidden: (message: string) => new ApiError(403, 'forbidden', message),
  badCredentials: () => new ApiError(401, 'bad_credentials', 'wrong user name or password'),
  accountLocked: (until: number) =>
    new ApiError(401, 'account_locked', `too many failed logins: the account is locked until ${new Date(until).toISOString()}`),
  enrolmentRefused: () => new ApiError(401, 'enrolment_refused', 'the enrolment token is unknown, used or expired: ask an administrator for a new one'),
  userNotFound: (id: string) => new ApiError(404, 'user_not_found', `no user "${id}"`),
  userExists: (name: string) => new ApiError(409, 'user_exists', `a user "${name}" exists already`),
  tokenNotFound: (id: string) => new ApiError(404, 'token_not_found', `no API token "${id}"`),
  gatewayNotFound: (id: string) => new ApiError(404, 'gateway_not_found', `no gateway "${id}"`),
  rateLimited: (retryIn: string) => new ApiError(429, 'rate_limited', `too many requests: try again in ${retryIn}`),
  internal: () => new ApiError(500, 'internal_error', 'the hub failed to answer; the error is in its log'),
};
