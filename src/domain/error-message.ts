/** The product's errorMessage: the one in common/, which the lab uses too. */
export { errorMessage } from "../../common/error-message.ts";
