// The pages without a flow: the landing page, the accessibility statement, the 404 page.
import { markReady, startPage } from "./page.js";

await startPage();
markReady();
