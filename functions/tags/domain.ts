import { createHash } from 'node:crypto';
import { ConflictError, NotFoundError } from '#shared/errors';
import type { Page, PageRequest } from '#shared/pagination';
import type { Link, LinkStore, Tag, TagLink, TagLinkStore, TagStore } from '#shared/tables/resources';

/** Tags of one user and the links attached to them. Knows nothing of API Gateway. */
export interface TagDeps {
  tags: TagStore;
  links: LinkStore;
  tagLinks: TagLinkStore;
  now?: () => Date;
}

const timestamp = (deps: TagDeps): string => (deps.now?.() ?? new Date()).toISOString();

/** The comparison form of a tag name: names equal under it are the same tag. */
export function tagNameKey(name: string): string {
  return name.normalize('NFC').toLowerCase();
}

/**
 * A tag's id, derived from its name (case-insensitively), shaped like a UUID (version 8, RFC 9562). Deterministic
 * ids make "one tag per name" a single conditional put, with no transaction and no second index.
 */
export function tagIdFor(name: string): string {
  const hash = createHash('sha256').update(`tollgate:tag:${tagNameKey(name)}`, 'utf8').digest();
  hash[6] = ((hash[6] ?? 0) & 0x0f) | 0x80;
  hash[8] = ((hash[8] ?? 0) & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

export async function createTag(deps: TagDeps, userId: string, name: string): Promise<Tag> {
  const tag: Tag = { id: tagIdFor(name), name, createdAt: timestamp(deps) };
  const created = await deps.tags.createTag(userId, tag);
  if (!created) {
    throw new ConflictError(`A tag named "${name}" already exists (names are case-insensitive)`, {
      field: 'name',
      id: tag.id,
    });
  }
  return tag;
}

export async function getTag(deps: TagDeps, userId: string, id: string): Promise<Tag> {
  const tag = await deps.tags.getTag(userId, id);
  if (!tag) throw new NotFoundError(`Tag ${id} not found`);
  return tag;
}

export function listTags(deps: TagDeps, userId: string, page: PageRequest): Promise<Page<Tag>> {
  return deps.tags.listTags(userId, page);
}

/** Removes the tag's tag-links first, then the tag (conditionally): safe to repeat after an interruption. */
export async function deleteTag(deps: TagDeps, userId: string, id: string): Promise<void> {
  await deps.tagLinks.unlinkTag(userId, id);
  const deleted = await deps.tags.deleteTag(userId, id);
  if (!deleted) throw new NotFoundError(`Tag ${id} not found`);
}

/** Attaches a link to a tag. Both must exist; attaching twice is not an error (`created` tells them apart). */
export async function linkTag(
  deps: TagDeps,
  userId: string,
  input: { tagId: string; linkId: string },
): Promise<{ created: boolean; tagLink: TagLink }> {
  const { tagId, linkId } = input;
  const [tag, link] = await Promise.all([deps.tags.getTag(userId, tagId), deps.links.getLink(userId, linkId)]);
  if (!tag && !link) throw new NotFoundError(`Tag ${tagId} and link ${linkId} not found`);
  if (!tag) throw new NotFoundError(`Tag ${tagId} not found`);
  if (!link) throw new NotFoundError(`Link ${linkId} not found`);
  return deps.tagLinks.linkTag(userId, { tagId, linkId, createdAt: timestamp(deps) });
}

/**
 * One page of the links attached to a tag, in tag-link order. A tag-link whose link has just been deleted (a
 * concurrent DELETE /links/{id} between its cleanup and its delete) is skipped rather than served half-empty.
 */
export async function listLinksOfTag(deps: TagDeps, userId: string, tagId: string, page: PageRequest): Promise<Page<Link>> {
  const tag = await deps.tags.getTag(userId, tagId);
  if (!tag) throw new NotFoundError(`Tag ${tagId} not found`);
  const tagLinks = await deps.tagLinks.listTagLinks(userId, tagId, page);
  const links = new Map((await deps.links.getLinks(userId, tagLinks.items.map((t) => t.linkId))).map((l) => [l.id, l]));
  const items = tagLinks.items.flatMap((t) => {
    const link = links.get(t.linkId);
    return link ? [link] : [];
  });
  return { items, ...(tagLinks.cursor ? { cursor: tagLinks.cursor } : {}) };
}
