import type { AccountStore } from '#shared/accounts';
import { dataApiCaller, type DataApiCallerDeps } from '#shared/caller';
import { dataApiCallerDepsFromEnv } from '#shared/data-api';
import { requireEnv } from '#shared/env';
import { createApiHandler, json, noContent, parseBody, parseParams, type Routes } from '#shared/http';
import { listQuerySchema, pageBody, pageRequest } from '#shared/pagination';
import { DynamoResourceStore, LINK_PREFIX } from '#shared/tables/resources';
import { createLink, deleteLink, getLink, listLinks, type LinkDeps } from './domain.ts';
import { createLinkBody, idParams } from './schemas.ts';

export { createLinkBody, idParams };

/** `POST /links`, `GET /links`, `GET /links/{id}`, `DELETE /links/{id}`: the caller's bookmarked links. */

export interface LinksRouteDeps extends LinkDeps, DataApiCallerDeps {
  accounts: AccountStore;
}

export function linksRoutes(deps: LinksRouteDeps): Routes {
  const authorize = dataApiCaller(deps);

  return {
    'POST /links': async ({ event }) => {
      const { userId } = await authorize(event);
      const input = parseBody(event, createLinkBody);
      return json(201, await createLink(deps, userId, input));
    },

    'GET /links': async ({ event }) => {
      const { userId } = await authorize(event);
      const query = parseParams(event.queryStringParameters, listQuerySchema, 'query');
      const page = await listLinks(deps, userId, pageRequest(query, userId, LINK_PREFIX));
      return json(200, pageBody(page));
    },

    'GET /links/{id}': async ({ event }) => {
      const { userId } = await authorize(event);
      const { id } = parseParams(event.pathParameters, idParams, 'path');
      return json(200, await getLink(deps, userId, id));
    },

    'DELETE /links/{id}': async ({ event }) => {
      const { userId } = await authorize(event);
      const { id } = parseParams(event.pathParameters, idParams, 'path');
      await deleteLink(deps, userId, id);
      return noContent();
    },
  };
}

const resources = new DynamoResourceStore(requireEnv('RESOURCES_TABLE'));

export const routes = linksRoutes({
  ...dataApiCallerDepsFromEnv(),
  links: resources,
  tagLinks: resources,
});

export const handler = createApiHandler(routes);
