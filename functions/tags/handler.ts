import type { AccountStore } from '#shared/accounts';
import { dataApiCaller, type DataApiCallerDeps } from '#shared/caller';
import { dataApiCallerDepsFromEnv } from '#shared/data-api';
import { requireEnv } from '#shared/env';
import { createApiHandler, json, noContent, parseBody, parseParams, type Routes } from '#shared/http';
import { listQuerySchema, pageBody, pageRequest } from '#shared/pagination';
import { DynamoResourceStore, TAG_PREFIX, tagLinkPrefix } from '#shared/tables/resources';
import { createTag, deleteTag, getTag, linkTag, listLinksOfTag, listTags, type TagDeps } from './domain.ts';
import { createTagBody, createTagLinkBody, idParams } from './schemas.ts';

/**
 * `POST /tags`, `GET /tags`, `GET /tags/{id}`, `DELETE /tags/{id}`, `POST /taglinks`, `GET /tags/{id}/links`:
 * the caller's tags and the links attached to them.
 */

export { createTagBody, createTagLinkBody, idParams };

export interface TagsRouteDeps extends TagDeps, DataApiCallerDeps {
  accounts: AccountStore;
}

export function tagsRoutes(deps: TagsRouteDeps): Routes {
  const authorize = dataApiCaller(deps);

  return {
    'POST /tags': async ({ event }) => {
      const { userId } = await authorize(event);
      const { name } = parseBody(event, createTagBody);
      return json(201, await createTag(deps, userId, name));
    },

    'GET /tags': async ({ event }) => {
      const { userId } = await authorize(event);
      const query = parseParams(event.queryStringParameters, listQuerySchema, 'query');
      const page = await listTags(deps, userId, pageRequest(query, userId, TAG_PREFIX));
      return json(200, pageBody(page));
    },

    'GET /tags/{id}': async ({ event }) => {
      const { userId } = await authorize(event);
      const { id } = parseParams(event.pathParameters, idParams, 'path');
      return json(200, await getTag(deps, userId, id));
    },

    'DELETE /tags/{id}': async ({ event }) => {
      const { userId } = await authorize(event);
      const { id } = parseParams(event.pathParameters, idParams, 'path');
      await deleteTag(deps, userId, id);
      return noContent();
    },

    'POST /taglinks': async ({ event }) => {
      const { userId } = await authorize(event);
      const input = parseBody(event, createTagLinkBody);
      const { created, tagLink } = await linkTag(deps, userId, input);
      return json(created ? 201 : 200, tagLink);
    },

    'GET /tags/{id}/links': async ({ event }) => {
      const { userId } = await authorize(event);
      const { id } = parseParams(event.pathParameters, idParams, 'path');
      const query = parseParams(event.queryStringParameters, listQuerySchema, 'query');
      const page = await listLinksOfTag(deps, userId, id, pageRequest(query, userId, tagLinkPrefix(id)));
      return json(200, pageBody(page));
    },
  };
}

const resources = new DynamoResourceStore(requireEnv('RESOURCES_TABLE'));

export const routes = tagsRoutes({
  ...dataApiCallerDepsFromEnv(),
  tags: resources,
  links: resources,
  tagLinks: resources,
});

export const handler = createApiHandler(routes);
