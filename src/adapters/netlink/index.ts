// Netlink adapter: interface discovery and change notifications through iproute2.
export { discoverInterfaces, DEFAULT_DISCOVERY_TIMEOUT_MS, DISCOVERY_COMMANDS, type DiscoverOptions } from './discover.ts';
export { DiscoveryError, type DiscoveryErrorCode } from './errors.ts';
export { parseIpAddrJson, defaultRouteDevices } from './parse.ts';
export {
  NetlinkMonitor,
  backoffDelay,
  isRelevantMonitorLine,
  DEFAULT_BACKOFF,
  MONITOR_ARGS,
  type BackoffOptions,
  type MonitorChange,
  type MonitorHealth,
  type MonitorTimers,
  type NetlinkMonitorOptions,
} from './monitor.ts';
export { silentLogger, type Logger } from './logger.ts';
