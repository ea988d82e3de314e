import { GraphQLError, Kind } from 'graphql';
import { GraphQLUpload } from 'graphql-upload-minimal';
import { builder } from './builder.js';

builder.scalarType('DateTime', {
  description: 'An ISO 8601 date and time in UTC',
  serialize: (value) => (value as Date).toISOString(),
  parseValue: (value) => {
    const date = new Date(String(value));
    if (Number.isNaN(date.getTime())) throw new GraphQLError('DateTime must be an ISO 8601 string');
    return date;
  },
});

builder.scalarType('JSON', {
  description: 'Any JSON value',
  serialize: (value) => value,
  parseValue: (value) => value,
  parseLiteral: function parse(ast): unknown {
    switch (ast.kind) {
      case Kind.STRING: case Kind.BOOLEAN: return ast.value;
      case Kind.INT: case Kind.FLOAT: return Number(ast.value);
      case Kind.NULL: return null;
      case Kind.LIST: return ast.values.map((v) => parse(v));
      case Kind.OBJECT: return Object.fromEntries(ast.fields.map((f) => [f.name.value, parse(f.value)]));
      default: throw new GraphQLError('JSON literals cannot use variables inside');
    }
  },
});

builder.addScalarType('Upload', GraphQLUpload, {});
