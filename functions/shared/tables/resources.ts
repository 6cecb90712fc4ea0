import {
  BatchGetCommand,
  BatchWriteCommand,
  DeleteCommand,
  GetCommand,
  PutCommand,
  QueryCommand,
  type BatchGetCommandInput,
  type BatchWriteCommandInput,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import { conditionHeld } from '../aws-errors.ts';
import { documentClient } from '../clients.ts';
import type { Cursor, Page, PageRequest } from '../pagination.ts';

/**
 * The Resources table: the sample API's resources (links, tags and the tag-links between them), one DynamoDB table, one partition per
 * user (`userId` = Cognito `sub`). Every read and write names the caller's partition, so one user can never reach
 * another's items. Sort keys:
 *
 *   LINK#<linkId>                  a link
 *   TAG#<tagId>                    a tag (id derived from the lower-cased name: one tag per name and user)
 *   TAGLINK#<tagId>#<linkId>       "tag has link"   (lists the links of a tag)
 *   LINKTAG#<linkId>#<tagId>       "link has tag"   (the reverse, so deleting a link finds its tag-links)
 *
 * There are no transactions (the offline DynamoDB, dynalite, has none): every write is a single-item conditional
 * put/delete or a BatchWrite of deletes, ordered so that repeating an interrupted request finishes the job.
 */

export interface Link {
  id: string;
  url: string;
  title?: string;
  createdAt: string;
}

export interface Tag {
  id: string;
  name: string;
  createdAt: string;
}

export interface TagLink {
  tagId: string;
  linkId: string;
  createdAt: string;
}

export const LINK_PREFIX = 'LINK#';
export const TAG_PREFIX = 'TAG#';
export const tagLinkPrefix = (tagId: string): string => `TAGLINK#${tagId}#`;
export const linkTagPrefix = (linkId: string): string => `LINKTAG#${linkId}#`;

export const sortKeys = {
  link: (id: string): string => `${LINK_PREFIX}${id}`,
  tag: (id: string): string => `${TAG_PREFIX}${id}`,
  tagLink: (tagId: string, linkId: string): string => `${tagLinkPrefix(tagId)}${linkId}`,
  linkTag: (linkId: string, tagId: string): string => `${linkTagPrefix(linkId)}${tagId}`,
};

export interface LinkStore {
  /** Writes a new link (fails if the id is taken). */
  createLink(userId: string, link: Link): Promise<void>;
  getLink(userId: string, id: string): Promise<Link | undefined>;
  /** The links among `ids` that exist, in no particular order. */
  getLinks(userId: string, ids: readonly string[]): Promise<Link[]>;
  listLinks(userId: string, page: PageRequest): Promise<Page<Link>>;
  /** Deletes a link; false if there was none. */
  deleteLink(userId: string, id: string): Promise<boolean>;
}

export interface TagStore {
  /** Writes a new tag; false if a tag with this id (so this name) exists already. */
  createTag(userId: string, tag: Tag): Promise<boolean>;
  getTag(userId: string, id: string): Promise<Tag | undefined>;
  listTags(userId: string, page: PageRequest): Promise<Page<Tag>>;
  /** Deletes a tag; false if there was none. */
  deleteTag(userId: string, id: string): Promise<boolean>;
}

export interface TagLinkStore {
  /** Records "tag has link" in both directions. `created` is false when it existed; `tagLink` is the stored one. */
  linkTag(userId: string, tagLink: TagLink): Promise<{ created: boolean; tagLink: TagLink }>;
  listTagLinks(userId: string, tagId: string, page: PageRequest): Promise<Page<TagLink>>;
  /** Removes every tag-link of a tag, both directions. Safe to repeat. */
  unlinkTag(userId: string, tagId: string): Promise<void>;
  /** Removes every tag-link of a link, both directions. Safe to repeat. */
  unlinkLink(userId: string, linkId: string): Promise<void>;
}

export type ResourceStore = LinkStore & TagStore & TagLinkStore;

type Item = Record<string, unknown>;
type Key = { userId: string; sk: string };
type WriteRequests = NonNullable<BatchWriteCommandInput['RequestItems']>;
type GetRequests = NonNullable<BatchGetCommandInput['RequestItems']>;

const BATCH_WRITE_SIZE = 25;
const BATCH_GET_SIZE = 100;
const MAX_BATCH_ATTEMPTS = 6;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Capped exponential backoff with jitter for unprocessed batch items (throttling). */
const backoffMs = (attempt: number): number => Math.min(1_000, 25 * 2 ** attempt) * (0.5 + Math.random() / 2);

function chunks<T>(values: readonly T[], size: number): T[][] {
  const result: T[][] = [];
  for (let i = 0; i < values.length; i += size) result.push(values.slice(i, i + size));
  return result;
}

const str = (item: Item, name: string): string => String(item[name]);

function toLink(item: Item): Link {
  const title = item.title;
  return {
    id: str(item, 'id'),
    url: str(item, 'url'),
    ...(typeof title === 'string' ? { title } : {}),
    createdAt: str(item, 'createdAt'),
  };
}

const toTag = (item: Item): Tag => ({ id: str(item, 'id'), name: str(item, 'name'), createdAt: str(item, 'createdAt') });

const toTagLink = (item: Item): TagLink => ({
  tagId: str(item, 'tagId'),
  linkId: str(item, 'linkId'),
  createdAt: str(item, 'createdAt'),
});

/** The DynamoDB adapter of all three stores. */
export class DynamoResourceStore implements ResourceStore {
  constructor(
    private readonly tableName: string,
    private readonly client: DynamoDBDocumentClient = documentClient,
  ) {}

  // ------------------------------------------------------------------ links
  async createLink(userId: string, link: Link): Promise<void> {
    const created = await this.putIfAbsent({ userId, sk: sortKeys.link(link.id), ...link });
    if (!created) throw new Error('Link id is already taken');
  }

  async getLink(userId: string, id: string): Promise<Link | undefined> {
    const item = await this.get({ userId, sk: sortKeys.link(id) });
    return item ? toLink(item) : undefined;
  }

  async getLinks(userId: string, ids: readonly string[]): Promise<Link[]> {
    const unique = [...new Set(ids)];
    const items = await this.batchGet(unique.map((id) => ({ userId, sk: sortKeys.link(id) })));
    return items.map(toLink);
  }

  async listLinks(userId: string, page: PageRequest): Promise<Page<Link>> {
    const result = await this.query(userId, LINK_PREFIX, page);
    return { ...result, items: result.items.map(toLink) };
  }

  deleteLink(userId: string, id: string): Promise<boolean> {
    return this.deleteIfExists({ userId, sk: sortKeys.link(id) });
  }

  // ------------------------------------------------------------------ tags
  createTag(userId: string, tag: Tag): Promise<boolean> {
    return this.putIfAbsent({ userId, sk: sortKeys.tag(tag.id), ...tag });
  }

  async getTag(userId: string, id: string): Promise<Tag | undefined> {
    const item = await this.get({ userId, sk: sortKeys.tag(id) });
    return item ? toTag(item) : undefined;
  }

  async listTags(userId: string, page: PageRequest): Promise<Page<Tag>> {
    const result = await this.query(userId, TAG_PREFIX, page);
    return { ...result, items: result.items.map(toTag) };
  }

  deleteTag(userId: string, id: string): Promise<boolean> {
    return this.deleteIfExists({ userId, sk: sortKeys.tag(id) });
  }

  // ------------------------------------------------------------------ tag-links
  async linkTag(userId: string, tagLink: TagLink): Promise<{ created: boolean; tagLink: TagLink }> {
    const { tagId, linkId } = tagLink;
    const created = await this.putIfAbsent({ userId, sk: sortKeys.tagLink(tagId, linkId), ...tagLink });
    let stored = tagLink;
    if (!created) {
      const existing = await this.get({ userId, sk: sortKeys.tagLink(tagId, linkId) });
      if (existing) stored = toTagLink(existing);
    }
    // The reverse entry goes second and always: a retry after a failure in between repairs the pair.
    await this.putIfAbsent({ userId, sk: sortKeys.linkTag(linkId, tagId), ...stored });
    return { created, tagLink: stored };
  }

  async listTagLinks(userId: string, tagId: string, page: PageRequest): Promise<Page<TagLink>> {
    const result = await this.query(userId, tagLinkPrefix(tagId), page);
    return { ...result, items: result.items.map(toTagLink) };
  }

  unlinkTag(userId: string, tagId: string): Promise<void> {
    return this.unlinkAll(userId, tagLinkPrefix(tagId));
  }

  unlinkLink(userId: string, linkId: string): Promise<void> {
    return this.unlinkAll(userId, linkTagPrefix(linkId));
  }

  // ------------------------------------------------------------------ primitives
  private async get(key: Key): Promise<Item | undefined> {
    const { Item } = await this.client.send(new GetCommand({ TableName: this.tableName, Key: key, ConsistentRead: true }));
    return Item;
  }

  private putIfAbsent(item: Key & Item): Promise<boolean> {
    return conditionHeld(
      this.client.send(new PutCommand({ TableName: this.tableName, Item: item, ConditionExpression: 'attribute_not_exists(sk)' })),
    );
  }

  private deleteIfExists(key: Key): Promise<boolean> {
    return conditionHeld(
      this.client.send(new DeleteCommand({ TableName: this.tableName, Key: key, ConditionExpression: 'attribute_exists(sk)' })),
    );
  }

  private async query(userId: string, prefix: string, page: PageRequest): Promise<Page<Item>> {
    const { Items, LastEvaluatedKey } = await this.client.send(
      new QueryCommand({
        TableName: this.tableName,
        KeyConditionExpression: 'userId = :userId AND begins_with(sk, :prefix)',
        ExpressionAttributeValues: { ':userId': userId, ':prefix': prefix },
        Limit: page.limit,
        ConsistentRead: true,
        ...(page.cursor ? { ExclusiveStartKey: { userId: page.cursor.userId, sk: page.cursor.sk } } : {}),
      }),
    );
    const cursor: Cursor | undefined = LastEvaluatedKey
      ? { userId: String(LastEvaluatedKey.userId), sk: String(LastEvaluatedKey.sk) }
      : undefined;
    return { items: Items ?? [], ...(cursor ? { cursor } : {}) };
  }

  /** Deletes every tag-link under `prefix` (either direction) and its mirror entry, page by page. */
  private async unlinkAll(userId: string, prefix: string): Promise<void> {
    let startKey: Record<string, unknown> | undefined;
    do {
      const { Items, LastEvaluatedKey } = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'userId = :userId AND begins_with(sk, :prefix)',
          ExpressionAttributeValues: { ':userId': userId, ':prefix': prefix },
          ProjectionExpression: 'tagId, linkId',
          ConsistentRead: true,
          ...(startKey ? { ExclusiveStartKey: startKey } : {}),
        }),
      );
      const keys = (Items ?? []).flatMap((item): Key[] => {
        const tagId = str(item, 'tagId');
        const linkId = str(item, 'linkId');
        return [
          { userId, sk: sortKeys.tagLink(tagId, linkId) },
          { userId, sk: sortKeys.linkTag(linkId, tagId) },
        ];
      });
      await this.batchDelete(keys);
      startKey = LastEvaluatedKey;
    } while (startKey);
  }

  private async batchDelete(keys: readonly Key[]): Promise<void> {
    for (const chunk of chunks(keys, BATCH_WRITE_SIZE)) {
      let pending: WriteRequests | undefined = {
        [this.tableName]: chunk.map((key) => ({ DeleteRequest: { Key: key } })),
      };
      for (let attempt = 0; pending && Object.keys(pending).length > 0; attempt += 1) {
        if (attempt >= MAX_BATCH_ATTEMPTS) throw new Error('BatchWrite left unprocessed items after retries');
        if (attempt > 0) await sleep(backoffMs(attempt));
        const { UnprocessedItems }: { UnprocessedItems?: WriteRequests } = await this.client.send(
          new BatchWriteCommand({ RequestItems: pending }),
        );
        pending = UnprocessedItems;
      }
    }
  }

  private async batchGet(keys: readonly Key[]): Promise<Item[]> {
    const items: Item[] = [];
    for (const chunk of chunks(keys, BATCH_GET_SIZE)) {
      let pending: GetRequests | undefined = { [this.tableName]: { Keys: chunk, ConsistentRead: true } };
      for (let attempt = 0; pending && Object.keys(pending).length > 0; attempt += 1) {
        if (attempt >= MAX_BATCH_ATTEMPTS) throw new Error('BatchGet left unprocessed keys after retries');
        if (attempt > 0) await sleep(backoffMs(attempt));
        const { Responses, UnprocessedKeys }: { Responses?: Record<string, Item[]>; UnprocessedKeys?: GetRequests } =
          await this.client.send(new BatchGetCommand({ RequestItems: pending }));
        items.push(...(Responses?.[this.tableName] ?? []));
        pending = UnprocessedKeys;
      }
    }
    return items;
  }
}
