// The client and server addresses the PROXY header tests and benchmarks put
// in their headers: RFC 5737 documentation addresses, never dialled.

/** The client's address, as the proxy saw it. */
export const source: Deno.NetAddr = {
  transport: "tcp",
  hostname: "192.0.2.7",
  port: 51234,
};

/** The address the client connected to, on the proxy. */
export const destination: Deno.NetAddr = {
  transport: "tcp",
  hostname: "198.51.100.1",
  port: 443,
};
