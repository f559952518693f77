import { createHandler } from './handler';
import { settingsFromEnv } from './settings';

export const handler = createHandler(settingsFromEnv(process.env));
