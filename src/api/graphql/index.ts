/** Imports every type file (each registers itself on the builder) and builds the schema. */
import { builder } from './builder.js';
import './scalars.js';
import './enums.js';
import './userError.js';
import './columnMappings.js';
import './job.js';
import './imports.js';
import './stagedUploads.js';

export const schema = builder.toSchema({ sortSchema: true });
