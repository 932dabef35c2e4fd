/** How browsers reach the dashboard (Home Assistant links each device to its page there). */
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import type { Config } from '../config/config.js';

/**
 * `http.public_url` when set; else the address the API listens on, with a wildcard address replaced by
 * this host's mDNS name (`<hostname>.local`, which Raspberry Pi OS announces), since a browser on another
 * machine cannot use 0.0.0.0.
 */
export function publicUrl(http: Config['http'], address: AddressInfo | string | null): string {
  const configured = http.public_url.replace(/\/+$/, '');
  if (configured) return configured;
  const port = typeof address === 'object' && address ? address.port : http.port;
  let host = http.host;
  if (host === '0.0.0.0' || host === '::') host = hostname().includes('.') ? hostname() : `${hostname()}.local`;
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}
