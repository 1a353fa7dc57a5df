extension OPTForCausalLM: GenerativeModel {
    public var languageModel: LanguageModel { self }
    public var contextLength: Int { config.maxPositionEmbeddings }
}
