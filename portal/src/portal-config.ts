/**
 * The shape of config.json, alone in a file without DOM code so the offline server (local/portal) can type what it
 * serves with the same declaration.
 */
import type { PasswordPolicy } from '#shared/password-policy';

import type { DataApiAuth } from './data-api-auth.ts';

/** What the portal reads at start-up from `config.json`; the offline server (local/portal) writes the same shape. */
export interface PortalConfig {
  region: string;
  userPoolId: string;
  userPoolClientId: string;
  /** The Cognito user-pool API: offline the local Cognito, in AWS https://cognito-idp.<region>.amazonaws.com/. */
  cognitoEndpoint: string;
  /** The API stage URL, e.g. https://abc.execute-api.us-east-1.amazonaws.com/v1. */
  apiUrl: string;
  /** How the data API authenticates (the template's DataApiAuth); absent = IdTokenAndApiKey. */
  dataApiAuth?: DataApiAuth;
  /** Offline only: where the portal's Outbox page reads the codes Cognito sent. */
  outboxUrl?: string;
  /**
   * The user pool's `Policies.PasswordPolicy` (the template's; offline from the stack, in AWS from DescribeUserPool):
   * new passwords are checked against it before they are sent, and its rules are what the forms display.
   */
  passwordPolicy?: PasswordPolicy;
}
