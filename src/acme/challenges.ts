// The HTTP-01 challenges being answered now (RFC 8555 §8.3): token -> key authorization. The
// ACME manager puts one in before it tells the CA to validate and takes it out afterwards;
// the http listener serves them at /.well-known/acme-challenge/<token>.
export class AcmeChallenges {
  private readonly byToken = new Map<string, string>();

  set(token: string, keyAuthorization: string): void {
    this.byToken.set(token, keyAuthorization);
  }

  get(token: string): string | undefined {
    return this.byToken.get(token);
  }

  delete(token: string): void {
    this.byToken.delete(token);
  }
}
