import { NotFoundError } from '#shared/errors';
import { uuidv7 } from '#shared/ids';
import type { Page, PageRequest } from '#shared/pagination';
import type { Link, LinkStore, TagLinkStore } from '#shared/tables/resources';

/** Links of one user. Knows nothing of API Gateway: typed input in, a link or a typed error out. */
export interface LinkDeps {
  links: LinkStore;
  tagLinks: TagLinkStore;
  /** New link ids: time-ordered (UUIDv7) by default, so a list of links comes back in creation order. */
  newId?: () => string;
  now?: () => Date;
}

export interface NewLink {
  url: string;
  title?: string;
}

export async function createLink(deps: LinkDeps, userId: string, input: NewLink): Promise<Link> {
  const link: Link = {
    id: (deps.newId ?? uuidv7)(),
    url: input.url,
    ...(input.title !== undefined ? { title: input.title } : {}),
    createdAt: (deps.now?.() ?? new Date()).toISOString(),
  };
  await deps.links.createLink(userId, link);
  return link;
}

export async function getLink(deps: LinkDeps, userId: string, id: string): Promise<Link> {
  const link = await deps.links.getLink(userId, id);
  if (!link) throw new NotFoundError(`Link ${id} not found`);
  return link;
}

export function listLinks(deps: LinkDeps, userId: string, page: PageRequest): Promise<Page<Link>> {
  return deps.links.listLinks(userId, page);
}

/**
 * Removes the link's tag-links first, then the link (conditionally). Interrupted half-way, the link is still there
 * and a retry finishes the job; a missing link (another user's included) is a 404.
 */
export async function deleteLink(deps: LinkDeps, userId: string, id: string): Promise<void> {
  await deps.tagLinks.unlinkLink(userId, id);
  const deleted = await deps.links.deleteLink(userId, id);
  if (!deleted) throw new NotFoundError(`Link ${id} not found`);
}
