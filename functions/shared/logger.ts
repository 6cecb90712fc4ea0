import { Logger } from '@aws-lambda-powertools/logger';

/** The one logger of every function. Service name and level come from POWERTOOLS_* in the template's Globals. */
export const logger = new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'tollgate' });
