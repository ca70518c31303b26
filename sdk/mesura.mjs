// The SDK as an ES module, for bundlers and `import`: the same code as
// mesura.js, which is a classic script for a plain <script src> tag.
import Mesura from "./mesura.js";

export const init = Mesura.init;
export const version = Mesura.version;
export default Mesura;
