// Where the bench's fake provider listens: loopback, but outside the bench tenant's subnet
// (127.0.0.0/27), because the router refuses a provider address inside a tenant network.
export const PROVIDER_HOST = "127.0.0.100";
