/** `host:port` (or `[v6]:port`, or `:port`) of a bind address setting, split for `listen`. */
export function parseHostPort(address: string): { host: string; port: number } {
  const i = address.lastIndexOf(':');
  return { host: address.slice(0, i).replace(/^\[|\]$/g, '') || '127.0.0.1', port: Number(address.slice(i + 1)) };
}
