// Apollo Gateway + Apollo Server on express 5, the usual production setup, as the peer the
// benchmark compares against. usage: node gateway.mjs SUPERGRAPH_FILE PORT
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import { ApolloGateway } from "@apollo/gateway";
import { ApolloServer } from "@apollo/server";
import { ApolloServerPluginDrainHttpServer } from "@apollo/server/plugin/drainHttpServer";
import { expressMiddleware } from "@as-integrations/express5";
import express from "express";

const [supergraphPath, portArg] = process.argv.slice(2);
const port = Number(portArg);
const gateway = new ApolloGateway({ supergraphSdl: readFileSync(supergraphPath, "utf8") });
const app = express();
const httpServer = createServer(app);
const server = new ApolloServer({
  gateway,
  plugins: [ApolloServerPluginDrainHttpServer({ httpServer })],
});
await server.start();
app.use("/graphql", express.json(), expressMiddleware(server));
app.get("/health", (_req, res) => {
  const ok = gateway.__testing().state.phase === "loaded";
  res.status(ok ? 200 : 503).send(ok ? "OK" : "loading");
});
for (const sig of ["SIGTERM", "SIGINT"]) {
  process.once(sig, () => server.stop().finally(() => process.exit(0)));
}
await new Promise((resolve) => httpServer.listen({ port, host: "127.0.0.1" }, resolve));
console.log(`apollo gateway ready on 127.0.0.1:${port}`);
