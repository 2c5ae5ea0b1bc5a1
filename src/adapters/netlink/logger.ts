// The netlink adapters take the same injected logger as the rest of the agent.
export { silentLogger, type Logger } from '../../logger.ts';
