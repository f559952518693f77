// Types for pg's Client module on its own (lambdas/postgres/connection.ts says why it imports it directly).
declare module 'pg/lib/client' {
  import { Client } from 'pg';
  export = Client;
}
