// Replies the admin routes share.
import type { ApiReply } from '../router.js';

export const ok = (body: unknown): ApiReply => ({ status: 200, body });
export const created = (body: unknown): ApiReply => ({ status: 201, body });
export const noContent = (): ApiReply => ({ status: 204 });
